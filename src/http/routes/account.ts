import { Router, type Request, type Response } from 'express';
import { AccountError, signsInOnlyUpstream } from '../../accounts/accounts.js';
import { changePassword } from '../../oauth/account-life/account-lifecycle.js';
import { APP_PASSWORD_SCOPES, AppPasswordError, createAppPassword } from '../../oauth/account-life/app-passwords.js';
import type { CoreDeps } from '../../oauth/context.js';
import { wantsNotices } from '../../oauth/account-life/security-events.js';
import { clientAccessOf, type ClientAccess, type LiveSessions } from '../../oauth/clients/client-access.js';
import { revokeGrantOf, type GrantSummary } from '../../oauth/grants/grant-management.js';
import { lapsesAt, needsUpstreamSignIn } from '../../oauth/account-life/upstream-freshness.js';
import { describeScopes } from '../../oauth/scopes.js';
import { formBody } from '../oauth-http.js';
import type { Pages } from '../pages.js';
import type { LoginSession } from '../../store/types.js';
import { noStore } from '../security-headers.js';
import { RECENT_SIGN_IN_NEEDED, signInTooOld } from '../recent-sign-in.js';
import type { Sessions } from '../session.js';
import type { Views } from '../views.js';
import { passkeySection } from '../passkey-pages.js';
import { secondFactorRoutes, secondFactorSection } from './second-factor.js';
import { safeReturnTo } from '../return-to.js';

const LOGIN = '/account/login';

/**
 * The user's own page: every application they authorized, with a one-click
 * revoke, and sign-out. Revoking deletes the grant, so its tokens and XMPP
 * logins stop at once.
 */
export function accountRoutes({
  core,
  sessions,
  pages,
  views,
  liveSessions,
}: {
  core: CoreDeps;
  sessions: Sessions;
  pages: Pages;
  views: Views;
  liveSessions?: LiveSessions;
}): Router {
  const router = Router();
  const loginForm = { action: LOGIN, interaction: '', clientName: '' };

  /** The page; `extra` carries a just-created app password (shown this once) or a form error. */
  async function render(req: Request, res: Response, jid: string, extra: Record<string, unknown> = {}, status = 200) {
    // What XEP-0494 shows, here too: software, and whether a session is connected now (when the XMPP server can tell).
    const [access, live, account, passkeys, mfa, noticesOn] = await Promise.all([
      clientAccessOf(core, jid),
      liveSessions?.(jid).catch(() => null) ?? null,
      core.store.getAccount(jid),
      passkeySection(pages.passkeys, jid),
      secondFactorSection(core, pages.factors, jid),
      wantsNotices(core, jid),
    ]);
    const connected = live ? new Set(live.map((l) => l.grantId)) : null;
    const upstream = account?.upstream;
    const provider = upstream ? core.config.upstream.providers.find((p) => p.id === upstream.provider) : undefined;
    const lapse = account ? lapsesAt(core, account) : undefined;
    res.status(status).type('html').send(
      views.render('account', {
        title: 'account.title',
        jid,
        csrf: sessions.csrfToken(req, res),
        grants: access.filter((c) => c.grant.kind !== 'app_password').map((c) => grantView(c, connected)),
        appPasswords: access.filter((c) => c.grant.kind === 'app_password').map((c) => appPasswordView(c.grant)),
        scopes: APP_PASSWORD_SCOPES.map((value, i) => ({ value, text: appPasswordScopeLabel(value), checked: i === 0 })),
        ssoOnly: account ? signsInOnlyUpstream(account) : false,
        passkeys,
        mfa,
        noticesOn,
        upstream: upstream ? { name: provider?.name ?? upstream.provider, lastLogin: when(upstream.lastLoginAt) } : undefined,
        lapsed: account ? needsUpstreamSignIn(core, account) : false,
        lapsesAt: lapse !== undefined ? when(lapse) : undefined,
        notice: typeof req.query.notice === 'string' && /^account\.notice\.\w+$/.test(req.query.notice) ? req.query.notice : undefined,
        reauth: req.query.notice === 'account.notice.reauth_needed',
        ...extra,
      }),
    );
  }

  router.get('/account', noStore, async (req, res) => {
    const session = await sessions.current(req);
    const again = req.query.notice === 'account.notice.sign_in_again';
    if (!session) return pages.login(req, res, { ...loginForm, intro: again ? 'account.reauth.intro' : 'account.login_intro' });
    await render(req, res, session.jid);
  });

  // Answered with the page itself, never a redirect: the new secret must not
  // travel in a URL or be shown again on reload (no-store).
  router.post('/account/app-passwords', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await sessions.current(req);
    if (!session) return res.redirect(303, '/account');
    if (signInTooOld(core, session, 'app password')) return render(req, res, session.jid, RECENT_SIGN_IN_NEEDED, 403);
    const body = req.body as Record<string, unknown>;
    try {
      const { password, grant } = await createAppPassword(core, session.jid, { label: body.label, scope: body.scope });
      await render(req, res, session.jid, { created: { password, label: grant.label } });
    } catch (err) {
      if (!(err instanceof AppPasswordError)) throw err;
      core.log.info({ jid: session.jid, reason: err.code }, 'app password refused');
      await render(req, res, session.jid, { appPasswordError: err.message }, 400);
    }
  });

  router.post(LOGIN, noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await pages.handleLogin(req, res, { ...loginForm, intro: 'account.login_intro' });
    // After an upstream sign-in's second step: back to the flow it interrupted.
    if (session) res.redirect(303, safeReturnTo(res.locals.returnTo));
  });

  router.post('/account/revoke', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await sessions.current(req);
    if (!session) return res.redirect(303, '/account');
    const id = (req.body as Record<string, unknown>).grant;
    const revoked = typeof id === 'string' ? await revokeGrantOf(core, session.jid, id, 'account page') : null;
    redirectNotice(res, revoked ? 'account.notice.revoked' : 'account.notice.missing');
  });

  // Ends every other login session of the account (a new account epoch), keeping this one.
  router.post('/account/sessions/end-others', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await sessions.current(req);
    if (!session) return res.redirect(303, '/account');
    try {
      await sessions.renew(res, session, await core.accounts.endSessions(session.jid));
    } catch (err) {
      if (err instanceof AccountError && err.code === 'missing') return res.redirect(303, '/account');
      throw err;
    }
    redirectNotice(res, 'account.notice.others_signed_out');
  });

  // The current password again, so a borrowed browser cannot take the account over.
  router.post('/account/password', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await sessions.current(req);
    if (!session) return res.redirect(303, '/account');
    const { current, password, confirm, revoke_grants: revokeGrants, end_sessions: endSessions } = req.body as Record<string, unknown>;
    if (typeof current !== 'string' || typeof password !== 'string' || typeof confirm !== 'string' || !current || !password) {
      return render(req, res, session.jid, { error: 'account.password.missing' }, 400);
    }
    if (password !== confirm) return render(req, res, session.jid, { error: 'account.password.mismatch' }, 400);
    const account = await core.store.getAccount(session.jid);
    if (account && signsInOnlyUpstream(account)) {
      // No form offers this; a stale or hand-made one gets the same explanation.
      core.log.info({ jid: session.jid }, 'password change refused: the account signs in only upstream');
      return render(req, res, session.jid, { error: 'account.password.sso_only' }, 400);
    }
    const verified = await core.accounts.verify(session.jid, current, req.ip);
    if (!verified.ok) {
      if (verified.reason === 'throttled') {
        const seconds = Math.ceil(verified.retryAfterMs / 1000);
        res.set('Retry-After', String(seconds));
        return render(req, res, session.jid, { error: 'login.throttled', seconds }, 429);
      }
      return render(req, res, session.jid, { error: 'account.password.wrong' }, 401);
    }
    try {
      await changePassword(core, session.jid, password, { revokeGrants: revokeGrants === 'on', endPasswordSessions: endSessions === 'on', by: 'account page' });
      // The change ended every session of the account; this one carries on under a new epoch and id.
      await sessions.renew(res, session, await core.accounts.endSessions(session.jid));
    } catch (err) {
      if (err instanceof AccountError && err.code === 'bad-password') {
        return render(req, res, session.jid, { error: 'account.password.weak' }, 400);
      }
      if (err instanceof AccountError && err.code === 'missing') return res.redirect(303, '/account');
      throw err;
    }
    redirectNotice(res, revokeGrants === 'on' ? 'account.notice.password_changed_revoked' : 'account.notice.password_changed');
  });

  router.use(secondFactorRoutes({ core, sessions, pages, render }));

  // Asked for by a change that needs a recent sign-in: this browser signs out, then in again.
  router.post('/account/sign-in-again', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    await sessions.end(req, res);
    redirectNotice(res, 'account.notice.sign_in_again');
  });

  router.post('/account/logout', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    await sessions.end(req, res);
    redirectNotice(res, 'account.notice.signed_out');
  });

  return router;
}

function redirectNotice(res: Response, notice: string) {
  res.redirect(303, `/account?notice=${notice}`);
}

function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function grantView(c: ClientAccess, connected: Set<string> | null) {
  const g = c.grant;
  return {
    id: g.id,
    name: g.clientName,
    clientUri: g.clientUri,
    host: g.clientHost,
    logoUri: g.logoUri,
    scopes: describeScopes(g.scope),
    grantedAt: when(g.createdAt),
    lastUsed: when(g.lastUsedAt),
    device: softwareLine(c.agentSoftware, c.device),
    presence: connected === null ? undefined : connected.has(c.id) ? 'account.connected' : 'account.not_connected',
  };
}

/** The form's label key for an app password scope, so the list says what the form said. */
function appPasswordScopeLabel(scope: string): string | undefined {
  return (APP_PASSWORD_SCOPES as readonly string[]).includes(scope) ? `account.app_passwords.scope.${scope.replace(/:/g, '_')}` : undefined;
}


/** Issue 24 #2: the SASL2 client and device of the latest XMPP login, as XEP-0494 names them. */
function softwareLine(software: string | undefined, device: string | undefined): string | undefined {
  return [software, device].filter(Boolean).join(' · ') || undefined;
}

function appPasswordView(g: GrantSummary) {
  return {
    id: g.id,
    name: g.label ?? g.clientName,
    device: softwareLine(g.userAgent?.software, g.userAgent?.device),
    // A label key where the form had one; anything else (older grants) as written.
    scopes: g.scope.map((scope) => ({ label: appPasswordScopeLabel(scope), scope })),
    createdAt: when(g.createdAt),
    lastUsed: g.lastUsedAt > g.createdAt ? when(g.lastUsedAt) : undefined,
  };
}
