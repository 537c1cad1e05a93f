import { Router, type Request, type Response } from 'express';
import {
  RedirectError,
  UntrustedRequestError,
  parseAuthorizationRequest,
  type AuthorizationRequest,
} from '../../oauth/grants/authorization-request.js';
import type { CoreDeps } from '../../oauth/context.js';
import { approveAuthorization, coveredByGrant, errorLocation } from '../../oauth/grants/grants.js';
import { clientIdentityAssured } from '../../oauth/grants/redirect.js';
import type { LoginSession } from '../../store/types.js';
import { formBody } from '../oauth-http.js';
import type { Pages } from '../pages.js';
import { noStore } from '../security-headers.js';
import type { Sessions } from '../session.js';
import type { Signer } from '../signing.js';
import { clientLog } from '../../oauth/clients/client-log.js';
import type { SignInDue } from '../../oauth/account-life/sign-in-assurance.js';

export interface BrowserDeps {
  core: CoreDeps;
  sessions: Sessions;
  signer: Signer;
  pages: Pages;
}

const INTERACTION_TTL = 1800;
const LOGIN = '/oauth2/authorize/login';
const CONSENT = '/oauth2/authorize/consent';
const OOB = 'urn:ietf:wg:oauth:2.0:oob';

/**
 * The authorization endpoint and its interaction steps. The validated request
 * travels between steps as a signed blob in the form, so any instance can
 * continue any flow and nothing is stored until the user decides.
 */
export function authorizeRoutes({ core, sessions, signer, pages }: BrowserDeps): Router {
  const router = Router();
  const { config, log } = core;
  const seal = (request: AuthorizationRequest) => signer.seal('authorize', request.params, INTERACTION_TTL);
  const loginForm = (request: AuthorizationRequest) => ({
    action: LOGIN,
    interaction: seal(request),
    clientName: request.client.name,
    username: request.loginHint,
    returnTo: returnTo(request),
  });

  const start = async (req: Request, res: Response) => {
    const raw = (req.method === 'GET' ? req.query : req.body) as Record<string, unknown>;
    const request = await parse(raw ?? {}, res);
    if (request) await proceed(req, res, request, await sessions.current(req), false);
  };
  router.get('/oauth2/authorize', noStore, start);
  router.post('/oauth2/authorize', noStore, formBody, start);

  router.post(LOGIN, noStore, formBody, async (req, res) => {
    const request = await resume(req, res);
    if (!request) return;
    const session = await pages.handleLogin(req, res, loginForm(request));
    if (session) await proceed(req, res, request, session, true);
  });

  router.post(CONSENT, noStore, formBody, async (req, res) => {
    const request = await resume(req, res);
    if (!request) return;
    const session = await sessions.current(req);
    if (!session) return pages.login(req, res, loginForm(request), { status: 401, error: 'login.expired' });
    // The consent form's interaction also rides on the step pages: a session that still owes a step cannot approve.
    if (!(await answerDue(req, res, request, session, await pages.due(session, false, { acrValues: request.params.acr_values })))) return;
    if ((req.body as Record<string, unknown>).decision === 'approve') {
      finish(res, await approveAuthorization(core, request, session));
    } else {
      log.info({ jid: session.jid, ...clientLog(request.client) }, 'authorization denied by user');
      finish(res, errorLocation(config.issuer, request, 'access_denied', 'the user denied the request'));
    }
  });

  /** Decide the next step: login, consent, or straight back to the client. */
  async function proceed(req: Request, res: Response, request: AuthorizationRequest, session: LoginSession | null, fresh: boolean) {
    // A login in this very request satisfies prompt=login and any max_age, 0
    // included: otherwise the login page would come back forever. acr_values
    // (OIDC Core 3.1.2.1) and mfa.required: one factor steps up to two, or the request cannot be met.
    const due = await pages.due(session, fresh, {
      acrValues: request.params.acr_values,
      maxAge: request.maxAge,
      promptLogin: request.prompt.has('login'),
    });
    if (!(await answerDue(req, res, request, session, due))) return;
    const granted = await coveredByGrant(core.store, session!.jid, request.client.id, request.scope);
    // An earlier consent is reused only where the client's identity is assured.
    const unproven = granted && !clientIdentityAssured(request.client, request.redirectUri);
    if (!granted || unproven || request.prompt.has('consent')) {
      if (request.prompt.has('none')) {
        const why = unproven
          ? 'this application must be approved again each time: its redirect URI cannot prove which application is asking'
          : 'the user has not approved this application';
        return redirectError(res, request, 'consent_required', why);
      }
      return pages.consent(req, res, {
        action: CONSENT,
        interaction: seal(request),
        client: request.client,
        scope: request.scope,
        redirectUri: request.redirectUri,
        session: session!,
        approvedBefore: unproven,
      });
    }
    finish(res, await approveAuthorization(core, request, session!));
  }

  /** True when nothing is due; otherwise answers what is (the login page, a step, or an error for the client). */
  async function answerDue(req: Request, res: Response, request: AuthorizationRequest, session: LoginSession | null, due: SignInDue): Promise<boolean> {
    switch (due.due) {
      case 'nothing':
        return true;
      case 'sign-in':
        if (request.prompt.has('none')) redirectError(res, request, 'login_required', 'the user is not signed in');
        else pages.signInAgain(req, res, loginForm(request), due.why);
        return false;
      case 'unmet':
        redirectError(res, request, 'unmet_authentication_requirements', due.description);
        return false;
      default:
        if (request.prompt.has('none')) redirectError(res, request, 'interaction_required', 'a second factor is needed');
        else await pages.stepUp(req, res, loginForm(request), session!, due);
        return false;
    }
  }

  function redirectError(res: Response, request: AuthorizationRequest, error: string, description: string) {
    finish(res, errorLocation(config.issuer, request, error, description));
  }

  /** Back to the client; a native client registered for out-of-band gets a page to copy the code from. */
  function finish(res: Response, location: string) {
    if (!location.startsWith(`${OOB}?`)) return res.redirect(303, location);
    const params = new URL(location).searchParams;
    const code = params.get('code');
    if (!code) return pages.error(res, 400, params.get('error') ?? 'error', params.get('error_description') ?? '');
    pages.message(res, 200, { title: 'oob.title', heading: 'oob.heading', text: 'oob.text', code });
  }

  async function parse(raw: Record<string, unknown>, res: Response): Promise<AuthorizationRequest | null> {
    try {
      return await parseAuthorizationRequest(raw, core.clients, config);
    } catch (err) {
      if (err instanceof UntrustedRequestError) {
        log.info({ error: err.error, reason: err.description }, 'authorization request refused');
        pages.error(res, 400, err.error, err.description);
        return null;
      }
      if (err instanceof RedirectError) {
        log.info({ error: err.error, reason: err.description }, 'authorization request refused');
        finish(res, err.location(config.issuer));
        return null;
      }
      throw err;
    }
  }

  /** A form post from one of our pages: CSRF check, then the request it carries, re-validated. */
  async function resume(req: Request, res: Response): Promise<AuthorizationRequest | null> {
    if (!pages.csrfOk(req, res)) return null;
    const params = signer.unseal<Record<string, string>>('authorize', (req.body as Record<string, unknown>).interaction);
    if (!params) {
      pages.error(res, 400, 'expired', 'error.interaction');
      return null;
    }
    return parse(params, res);
  }

  return router;
}

/**
 * Back to this request after an upstream sign-in: the same parameters, minus
 * prompt=login, which the fresh sign-in has just satisfied (else it would loop).
 */
function returnTo(request: AuthorizationRequest): string {
  const params: Record<string, string> = { ...request.params };
  if (params.prompt !== undefined) {
    const rest = params.prompt.split(' ').filter((p) => p && p !== 'login');
    if (rest.length) params.prompt = rest.join(' ');
    else delete params.prompt;
  }
  return `/oauth2/authorize?${new URLSearchParams(params)}`;
}
