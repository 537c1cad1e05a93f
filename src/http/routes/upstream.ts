import { Router, type Request, type Response } from 'express';
import type { CoreDeps } from '../../oauth/context.js';
import { nowOf } from '../../oauth/account-life/upstream-freshness.js';
import { backchannelLogout } from '../../upstream/backchannel-logout.js';
import { UpstreamError } from '../../upstream/errors.js';
import type { UpstreamProviders } from '../../upstream/providers.js';
import { finishSignIn, newBrowserBinding, startSignIn, type SignInDeps } from '../../upstream/sign-in.js';
import { formBody } from '../oauth-http.js';
import { safeReturnTo } from '../return-to.js';
import type { Pages } from '../pages.js';
import { noStore } from '../security-headers.js';
import type { Sessions } from '../session.js';

const BINDING_COOKIE = 'xo_upstream';

/**
 * Sign-in through an upstream OpenID Connect provider: the login page's
 * "Sign in with …" buttons post here, the provider redirects back to
 * /upstream/<id>/callback (the redirect URI the operator registers there).
 */
export function upstreamRoutes({ core, sessions, pages, providers }: { core: CoreDeps; sessions: Sessions; pages: Pages; providers: UpstreamProviders }): Router {
  const router = Router();
  const { config, log } = core;
  const deps: SignInDeps = { store: core.store, log, config, providers, stateTtl: config.upstream.state_ttl, now: () => nowOf(core) };
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure: config.issuer.startsWith('https:'), path: '/upstream/' };
  const binding = (req: Request): string | null => {
    const v: unknown = req.cookies?.[BINDING_COOKIE];
    return typeof v === 'string' && /^[\w-]{32}$/.test(v) ? v : null;
  };

  router.post('/upstream/:id/login', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    // One binding per browser, reused, so sign-ins started in two tabs both finish.
    const browser = binding(req) ?? newBrowserBinding();
    try {
      const url = await startSignIn(deps, String(req.params.id), safeReturnTo((req.body as Record<string, unknown>).return_to), browser);
      res.cookie(BINDING_COOKIE, browser, { ...cookieOptions, maxAge: config.upstream.state_ttl * 1000 });
      res.redirect(303, url.href);
    } catch (err) {
      refuse(res, String(req.params.id), err);
    }
  });

  router.get('/upstream/:id/callback', noStore, async (req, res) => {
    const id = String(req.params.id);
    // The raw query: repeated parameters must reach the RP library as they came.
    const query = new URL(req.originalUrl, 'http://callback.invalid').searchParams;
    try {
      const done = await finishSignIn(deps, id, query, binding(req));
      core.metrics?.login('upstream', 'ok');
      log.info({ jid: done.jid, provider: id, outcome: done.outcome, amr: done.amr }, 'upstream sign-in');
      // Issue 26: unless the provider vouched for two factors, a second step (or, under mfa.required, an enrolment) may be due here.
      const upstream = config.upstream.providers.find((p) => p.id === id)?.name ?? id;
      const form = { action: '/account/login', interaction: '', clientName: '' };
      const session = await pages.afterFirstFactor(req, res, form, { jid: done.jid, epoch: '', amr: done.amr, returnTo: done.returnTo, upstream });
      if (session) res.redirect(303, done.returnTo);
    } catch (err) {
      refuse(res, id, err);
    }
  });

  // Server to server: no cookies, no CSRF; answers as the spec says (200, or 400 with an OAuth error).
  router.post('/upstream/:id/backchannel-logout', noStore, formBody, async (req, res) => {
    const id = String(req.params.id);
    try {
      await backchannelLogout({ store: core.store, log, providers }, id, (req.body as Record<string, unknown>).logout_token);
      res.status(200).end();
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      log.info({ provider: id.slice(0, 40), reason: err.code, detail: err.detail }, 'upstream back-channel logout refused');
      res.status(err.code === 'unavailable' ? 503 : err.code === 'unknown-provider' ? 404 : 400).json({
        error: 'invalid_request',
        error_description: err.code === 'failed' ? err.detail : 'the logout request cannot be processed',
      });
    }
  });

  function refuse(res: Response, provider: string, err: unknown) {
    if (!(err instanceof UpstreamError)) throw err;
    core.metrics?.login('upstream', 'refused');
    log.info({ provider: provider.slice(0, 40), reason: err.code, detail: err.detail }, 'upstream sign-in refused');
    pages.error(res, err.status, `upstream_${err.code.replace(/-/g, '_')}`, `upstream.error.${err.code}`);
  }

  return router;
}
