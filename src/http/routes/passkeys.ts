import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { PasskeyError, type Passkeys, type PasskeySignIn } from '../../accounts/passkeys/passkeys.js';
import { factorKindsOf } from '../../accounts/second-factor/factors.js';
import type { CoreDeps } from '../../oauth/context.js';
import { recordSecurityEvent } from '../../oauth/account-life/security-events.js';
import { needsUpstreamSignIn } from '../../oauth/account-life/upstream-freshness.js';
import { StoreUnavailableError } from '../../store/unavailable.js';
import { safeReturnTo } from '../return-to.js';
import { formBody } from '../oauth-http.js';
import type { Pages } from '../pages.js';
import { secondFactorBinding } from '../passkey-pages.js';
import { noStore } from '../security-headers.js';
import { signInTooOld } from '../recent-sign-in.js';
import type { Sessions } from '../session.js';
import type { Signer } from '../signing.js';

/** The browser half of the library, served from our own origin (the CSP allows no other script). */
export const PASSKEY_BROWSER_SCRIPT = '/static/vendor/simplewebauthn-browser.js';
const CEREMONY_COOKIE = 'xo_passkey';
const STALE = 'sign in again first: adding a passkey needs a recent sign-in';
const CEREMONY_PURPOSE = 'passkey-ceremony';
/** A passkey sign-in shows possession of a hardware-bound key (RFC 8176 `hwk`); verified by PIN or biometrics it is two factors (`mfa`). */
export const PASSKEY_AMR = { verified: ['hwk', 'mfa'], presence: ['hwk'] } as const;

export interface PasskeyDeps {
  core: CoreDeps;
  sessions: Sessions;
  signer: Signer;
  pages: Pages;
}

/**
 * Passkeys on the web: the JSON ceremony endpoints the page's script calls
 * (register from /account, sign in from the login page, start the second
 * step's ceremony), and the plain forms that rename and remove. Every post
 * carries the page's CSRF token; every ceremony's challenge is single-use,
 * short-lived and bound to this browser: by an httpOnly cookie (registration
 * also to the login session), or for the second step to the pending sign-in.
 */
export function passkeyRoutes({ core, sessions, signer, pages }: PasskeyDeps, passkeys: Passkeys | null = pages.passkeys ?? null): Router {
  const router = Router();
  const { config, log } = core;
  const json = express.json({ limit: '64kb' });
  // Ceremony starts write to the store: bounded per address like other unauthenticated writes.
  const starts = core.store.rateLimiter({ name: 'passkey-start-address', points: 30, duration: 60 });
  const browserScript = browserBundle();

  router.get(PASSKEY_BROWSER_SCRIPT, (_req, res) => {
    res.sendFile(browserScript, { maxAge: '1h', headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
  });

  if (!passkeys) {
    log.info({ issuer: config.issuer }, 'passkeys off: WebAuthn needs the issuer to be a domain name, not an IP address');
    return router;
  }

  const cookieOptions = { httpOnly: true, sameSite: 'strict' as const, secure: config.issuer.startsWith('https:'), path: '/passkeys/' };
  const setCeremony = (res: Response, id: string) =>
    res.cookie(CEREMONY_COOKIE, `${id}.${signer.sign(CEREMONY_PURPOSE, id)}`, { ...cookieOptions, maxAge: 180_000 });
  const ceremonyOf = (req: Request, res: Response): string => {
    res.clearCookie(CEREMONY_COOKIE, cookieOptions);
    const raw: unknown = req.cookies?.[CEREMONY_COOKIE];
    if (typeof raw !== 'string') return '';
    const dot = raw.lastIndexOf('.');
    const id = raw.slice(0, Math.max(0, dot));
    return dot > 0 && signer.verify(CEREMONY_PURPOSE, id, raw.slice(dot + 1)) ? id : '';
  };

  /** CSRF as every form; a JSON refusal (the script shows `error_description`). */
  const guard = (handler: (req: Request, res: Response) => Promise<unknown>): RequestHandler => async (req, res, next) => {
    if (!sessions.checkCsrf(req)) {
      log.info({ path: req.path }, 'passkey request refused: bad CSRF token');
      return void refuse(res, 403, 'csrf', 'the page has expired; reload it and try again');
    }
    try {
      await handler(req, res);
    } catch (err) {
      if (err instanceof PasskeyError) return void refuse(res, refusalStatus(err), err.code, err.message);
      if (err instanceof StoreUnavailableError) {
        log.info({ path: req.path }, 'passkey request failed: store unavailable');
        res.set('Retry-After', '5');
        return void refuse(res, 503, 'temporarily_unavailable', 'the service is temporarily unavailable; try again shortly');
      }
      next(err);
    }
  };

  const throttled = async (req: Request, res: Response): Promise<boolean> => {
    const counted = await starts.consume(req.ip ?? 'unknown');
    if (counted.allowed) return false;
    log.info({ address: req.ip }, 'passkey ceremony refused: throttled');
    res.set('Retry-After', String(Math.max(1, Math.ceil(counted.retryAfterMs / 1000))));
    refuse(res, 429, 'throttled', 'too many attempts from this address; wait a moment');
    return true;
  };

  // Registration: signed in, from /account.
  router.post('/passkeys/register/options', noStore, json, guard(async (req, res) => {
    const session = await sessions.current(req);
    if (!session) return refuse(res, 401, 'login_required', 'sign in again first');
    if (signInTooOld(core, session, 'passkey registration')) return refuse(res, 403, 'reauth_required', STALE);
    if (await throttled(req, res)) return;
    const { ceremony, options } = await passkeys.startRegistration(session.jid, session.id);
    setCeremony(res, ceremony);
    res.json({ options });
  }));

  router.post('/passkeys/register/verify', noStore, json, guard(async (req, res) => {
    const ceremony = ceremonyOf(req, res);
    const session = await sessions.current(req);
    if (!session) return refuse(res, 401, 'login_required', 'sign in again first');
    if (signInTooOld(core, session, 'passkey registration')) return refuse(res, 403, 'reauth_required', STALE);
    const body = req.body as Record<string, unknown>;
    const added = await passkeys.finishRegistration(ceremony, session.jid, session.id, body.response, body.name);
    void recordSecurityEvent(core, session.jid, { kind: 'factor-added', factor: 'passkey', name: added.name }, eventContext(req));
    res.json({ location: '/account?notice=account.notice.passkey_added' });
  }));

  // Sign-in with a passkey alone: no user name, the browser offers this site's passkeys.
  router.post('/passkeys/sign-in/options', noStore, json, guard(async (req, res) => {
    if (!config.local_login) return refuse(res, 403, 'local_login_disabled', 'sign in through one of the listed providers');
    if (await throttled(req, res)) return;
    const { ceremony, options } = await passkeys.startSignIn('');
    setCeremony(res, ceremony);
    res.json({ options });
  }));

  router.post('/passkeys/sign-in/verify', noStore, json, guard(async (req, res) => {
    const ceremony = ceremonyOf(req, res);
    if (!config.local_login) return refuse(res, 403, 'local_login_disabled', 'sign in through one of the listed providers');
    const body = req.body as Record<string, unknown>;
    let done: PasskeySignIn;
    try {
      done = await passkeys.finishSignIn(ceremony, '', body.response);
    } catch (err) {
      core.metrics?.login('web', 'failed');
      throw err;
    }
    const account = await core.store.getAccount(done.jid);
    if (account && needsUpstreamSignIn(core, account)) {
      core.metrics?.login('web', 'lapsed');
      log.info({ jid: done.jid }, 'passkey sign-in refused: the account must sign in upstream first');
      return refuse(res, 401, 'upstream_required', 'sign in through your organisation’s provider once; then the passkey works again');
    }
    await sessions.start(res, done.jid, [...(done.userVerified ? PASSKEY_AMR.verified : PASSKEY_AMR.presence)], done.epoch);
    core.metrics?.login('web', 'ok');
    log.info({ jid: done.jid, via: 'passkey' }, 'web sign-in');
    res.json({ location: safeReturnTo(body.return_to) });
  }));

  // The second step after the password: the account's own passkeys. The answer goes back with the
  // step's form to the login action (Pages.handleStep), which finishes the sign-in and the flow.
  router.post('/passkeys/second-factor/options', noStore, json, guard(async (req, res) => {
    const pending = sessions.pending(req);
    if (!pending || pending.due !== 'second-factor') return refuse(res, 401, 'login_required', 'your sign-in has expired; please sign in again');
    if (await throttled(req, res)) return;
    const { ceremony, options } = await passkeys.startSignIn(secondFactorBinding(pending, (req.body as Record<string, unknown>).csrf), pending.jid);
    res.json({ options, ceremony });
  }));

  // Rename and remove: plain forms on /account, working without script.
  router.post('/account/passkeys/rename', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await sessions.current(req);
    if (!session) return res.redirect(303, '/account');
    const { id, name } = req.body as Record<string, unknown>;
    try {
      const renamed = typeof id === 'string' && (await passkeys.rename(session.jid, id, name));
      res.redirect(303, `/account?notice=account.notice.${renamed ? 'passkey_renamed' : 'passkey_missing'}`);
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      res.redirect(303, '/account?notice=account.notice.passkey_name_needed');
    }
  });

  router.post('/account/passkeys/remove', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await sessions.current(req);
    if (!session) return res.redirect(303, '/account');
    if (signInTooOld(core, session, 'passkey removal')) return res.redirect(303, '/account?notice=account.notice.reauth_needed');
    const { id } = req.body as Record<string, unknown>;
    // Under mfa.required, the last second factor stays until another replaces it.
    if (config.mfa.required === 'required' && (await passkeys.list(session.jid)).length <= 1 && (await factorKindsOf(core.store, session.jid)).length <= 1) {
      log.info({ jid: session.jid }, 'passkey removal refused: the last second factor under mfa.required');
      return res.redirect(303, '/account?notice=account.notice.passkey_last_factor');
    }
    const removed = typeof id === 'string' ? await passkeys.remove(session.jid, id) : null;
    if (removed) void recordSecurityEvent(core, session.jid, { kind: 'factor-removed', factor: 'passkey', name: removed.name }, eventContext(req));
    res.redirect(303, `/account?notice=account.notice.${removed ? 'passkey_removed' : 'passkey_missing'}`);
  });

  return router;
}

/** 400 for what the request got wrong, 409 for a passkey registered already, 401 for every failed proof. */
function refusalStatus(err: PasskeyError): number {
  if (err.code === 'limit' || err.code === 'bad-name' || err.code === 'malformed') return 400;
  return err.code === 'exists' ? 409 : 401;
}

const eventContext = (req: Request) => ({ address: req.ip, userAgent: req.get('user-agent') });

function refuse(res: Response, status: number, error: string, description: string): void {
  res.status(status).set('Cache-Control', 'no-store').json({ error, error_description: description });
}

/** The library's browser bundle (UMD, defines `SimpleWebAuthnBrowser`), found beside its package entry. */
function browserBundle(): string {
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  return join(dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js');
}
