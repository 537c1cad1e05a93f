import { Router, type Request, type Response } from 'express';
import { APP_PASSWORD_SCOPES, AppPasswordError, createAppPassword } from '../../oauth/app-passwords.js';
import type { CoreDeps } from '../../oauth/context.js';
import { grantsOf, revokeGrantOf, type GrantSummary } from '../../oauth/grant-management.js';
import { lapsesAt, needsUpstreamSignIn } from '../../oauth/upstream-freshness.js';
import { describeScopes } from '../../oauth/scopes.js';
import { formBody } from '../oauth-http.js';
import type { Pages } from '../pages.js';
import { noStore } from '../security-headers.js';
import type { Sessions } from '../session.js';
import type { Views } from '../views.js';

const LOGIN = '/account/login';

/**
 * The user's own page: every application they authorized, with a one-click
 * revoke, and sign-out. Revoking deletes the grant, so its tokens and XMPP
 * logins stop at once.
 */
export function accountRoutes({ core, sessions, pages, views }: { core: CoreDeps; sessions: Sessions; pages: Pages; views: Views }): Router {
  const router = Router();
  const loginForm = { action: LOGIN, interaction: '', clientName: '' };

  /** The page; `extra` carries a just-created app password (shown this once) or a form error. */
  async function render(req: Request, res: Response, jid: string, extra: Record<string, unknown> = {}, status = 200) {
    const grants = await grantsOf(core, jid);
    const account = await core.store.getAccount(jid);
    const upstream = account?.upstream;
    const provider = upstream ? core.config.upstream.providers.find((p) => p.id === upstream.provider) : undefined;
    const lapse = account ? lapsesAt(core, account) : undefined;
    res.status(status).type('html').send(
      views.render('account', {
        title: 'account.title',
        jid,
        csrf: sessions.csrfToken(req, res),
        grants: grants.filter((g) => g.kind !== 'app_password').map(grantView),
        appPasswords: grants.filter((g) => g.kind === 'app_password').map(appPasswordView),
        scopes: APP_PASSWORD_SCOPES.map((value, i) => ({ value, text: `account.app_passwords.scope.${value.replace(/:/g, '_')}`, checked: i === 0 })),
        upstream: upstream ? { name: provider?.name ?? upstream.provider, lastLogin: when(upstream.lastLoginAt) } : undefined,
        lapsed: account ? needsUpstreamSignIn(core, account) : false,
        lapsesAt: lapse !== undefined ? when(lapse) : undefined,
        notice: typeof req.query.notice === 'string' && /^account\.notice\.\w+$/.test(req.query.notice) ? req.query.notice : undefined,
        ...extra,
      }),
    );
  }

  router.get('/account', noStore, async (req, res) => {
    const session = await sessions.current(req);
    if (!session) return pages.login(req, res, { ...loginForm, intro: 'account.login_intro' });
    await render(req, res, session.jid);
  });

  // Answered with the page itself, never a redirect: the new secret must not
  // travel in a URL or be shown again on reload (no-store).
  router.post('/account/app-passwords', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await sessions.current(req);
    if (!session) return res.redirect(303, '/account');
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
    if (session) res.redirect(303, '/account');
  });

  router.post('/account/revoke', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await sessions.current(req);
    if (!session) return res.redirect(303, '/account');
    const id = (req.body as Record<string, unknown>).grant;
    const revoked = typeof id === 'string' ? await revokeGrantOf(core, session.jid, id, 'account page') : null;
    redirectNotice(res, revoked ? 'account.notice.revoked' : 'account.notice.missing');
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

function grantView(g: GrantSummary) {
  return {
    id: g.id,
    name: g.clientName,
    clientUri: g.clientUri,
    host: g.clientHost,
    logoUri: g.logoUri,
    scopes: describeScopes(g.scope),
    grantedAt: when(g.createdAt),
    lastUsed: when(g.lastUsedAt),
  };
}

function appPasswordView(g: GrantSummary) {
  return {
    id: g.id,
    name: g.label ?? g.clientName,
    scope: g.scope.join(' '),
    createdAt: when(g.createdAt),
    lastUsed: g.lastUsedAt > g.createdAt ? when(g.lastUsedAt) : undefined,
  };
}
