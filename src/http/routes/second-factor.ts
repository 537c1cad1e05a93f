import { Router, type Request, type Response } from 'express';
import type { CoreDeps } from '../../oauth/context.js';
import type { SecondFactors } from '../../accounts/second-factor/second-factors.js';
import { normaliseTotpCode } from '../../accounts/second-factor/totp.js';
import type { LoginSession } from '../../store/types.js';
import { formBody } from '../oauth-http.js';
import type { Pages } from '../pages.js';
import { noStore } from '../security-headers.js';
import { RECENT_SIGN_IN_NEEDED, signInTooOld } from '../recent-sign-in.js';
import type { Sessions } from '../session.js';

/** What /account shows about second factors and where the password works. */
export async function secondFactorSection(core: CoreDeps, factors: SecondFactors | undefined, jid: string) {
  if (!factors) return undefined;
  const status = await factors.status(jid, core.config.password_logins);
  const required = core.config.mfa.required;
  return {
    totpSince: status.totpSince !== undefined ? `${new Date(status.totpSince).toISOString().slice(0, 16).replace('T', ' ')} UTC` : undefined,
    recoveryLeft: status.recoveryCodesLeft,
    offered: required !== 'none',
    required: required === 'required',
    passwordLogins: [
      { value: 'anywhere', text: 'account.password_logins.anywhere', checked: status.passwordLogins === 'anywhere' },
      { value: 'app_passwords_only', text: 'account.password_logins.app_passwords_only', checked: status.passwordLogins === 'app_passwords_only' },
    ],
  };
}

/**
 * TOTP on /account: set up (a QR code, confirmed by a first code; only while
 * TOTP is off, so replacing it takes a current code for the removal), new
 * recovery codes and removal (each behind a current code, so a browser left
 * signed in cannot turn the factor off), and where the main password works.
 * `render` draws the account page with an error.
 */
export function secondFactorRoutes({
  core,
  sessions,
  pages,
  render,
}: {
  core: CoreDeps;
  sessions: Sessions;
  pages: Pages;
  render: (req: Request, res: Response, jid: string, extra: Record<string, unknown>, status: number) => Promise<void>;
}): Router {
  const router = Router();
  const factors = pages.factors;
  if (!factors) return router;

  /** CSRF and a live session, or the answer already sent. */
  async function signedIn(req: Request, res: Response): Promise<LoginSession | null> {
    if (!pages.csrfOk(req, res)) return null;
    const session = await sessions.current(req);
    if (!session) res.redirect(303, '/account');
    return session;
  }

  const enrol = { action: '/account/totp/confirm', cancel: true };

  router.post('/account/totp/start', noStore, formBody, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    if (signInTooOld(core, session, 'totp set-up')) return render(req, res, session.jid, RECENT_SIGN_IN_NEEDED, 403);
    if (core.config.mfa.required === 'none') return res.redirect(303, '/account');
    if (await totpAlreadyOn(req, res, session.jid)) return;
    await pages.enrolPage(req, res, { ...enrol, jid: session.jid });
  });

  router.post('/account/totp/confirm', noStore, formBody, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    if (signInTooOld(core, session, 'totp set-up')) return render(req, res, session.jid, RECENT_SIGN_IN_NEEDED, 403);
    if (await totpAlreadyOn(req, res, session.jid)) return;
    const secret = pages.enrolment(req, session.jid);
    if (!secret) return res.redirect(303, '/account');
    const code = (req.body as Record<string, unknown>).code;
    const done = await factors.confirmTotp(session.jid, secret, typeof code === 'string' ? code.slice(0, 64) : '', req.ip);
    if (!done.ok) {
      const err = done.reason === 'throttled' ? throttled(res, done.retryAfterMs) : { status: 401, error: 'totp.enrol.wrong' };
      return pages.enrolPage(req, res, { ...enrol, jid: session.jid, secret }, err);
    }
    pages.recoveryCodes(res, done.recoveryCodes, '/account?notice=account.notice.totp_on');
  });

  /**
   * Set-up replaces no TOTP already on: that would swap the factor without a
   * current code (a browser left signed in could take it over). Replacing is
   * removal (behind a code), then set-up. True when refused (answer sent).
   */
  async function totpAlreadyOn(req: Request, res: Response, jid: string): Promise<boolean> {
    if (!(await factors!.hasTotp(jid))) return false;
    core.log.info({ jid }, 'totp set-up refused: totp is on already (remove it first)');
    await render(req, res, jid, { error: 'account.mfa.totp_already_on' }, 409);
    return true;
  }

  /** A current TOTP or recovery code of the account, as at sign-in (same budgets, each code once). */
  async function codeOk(req: Request, res: Response, jid: string): Promise<boolean> {
    const raw = (req.body as Record<string, unknown>).code;
    const code = typeof raw === 'string' ? raw.slice(0, 64) : '';
    const checked = await factors!.check(jid, normaliseTotpCode(code) ? 'totp' : 'recovery', code, req.ip);
    if (checked.ok) return true;
    if (checked.reason === 'throttled') {
      const { status, seconds } = throttled(res, checked.retryAfterMs);
      await render(req, res, jid, { error: 'login.throttled', seconds }, status);
    } else {
      await render(req, res, jid, { error: 'account.mfa.wrong' }, 401);
    }
    return false;
  }

  router.post('/account/totp/recovery-codes', noStore, formBody, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session || !(await codeOk(req, res, session.jid))) return;
    const codes = await factors.newRecoveryCodes(session.jid);
    if (!codes) return res.redirect(303, '/account');
    pages.recoveryCodes(res, codes, '/account', 'recovery.intro_new');
  });

  router.post('/account/totp/remove', noStore, formBody, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    // Under mfa.required, the last factor stays until another replaces it.
    if (core.config.mfa.required === 'required' && (await factors.kinds(session.jid)).length <= 1) {
      return render(req, res, session.jid, { error: 'account.mfa.keep' }, 400);
    }
    if (!(await codeOk(req, res, session.jid))) return;
    await factors.removeTotp(session.jid);
    res.redirect(303, '/account?notice=account.notice.totp_off');
  });

  router.post('/account/password-logins', noStore, formBody, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    if (signInTooOld(core, session, 'password logins')) return render(req, res, session.jid, RECENT_SIGN_IN_NEEDED, 403);
    const value = (req.body as Record<string, unknown>).password_logins;
    if (value !== 'anywhere' && value !== 'app_passwords_only') {
      core.log.info({ jid: session.jid }, 'password logins refused: unknown value');
      return render(req, res, session.jid, { error: 'account.password.missing' }, 400);
    }
    await factors.setPasswordLogins(session.jid, value);
    res.redirect(303, '/account?notice=account.notice.password_logins');
  });

  return router;
}

function throttled(res: Response, retryAfterMs: number) {
  const seconds = Math.ceil(retryAfterMs / 1000);
  res.set('Retry-After', String(seconds));
  return { status: 429, error: 'login.throttled', seconds };
}
