import { Router, type Request, type Response } from 'express';
import type { CoreDeps } from '../../oauth/context.js';
import { OAuthError } from '../../oauth/errors.js';
import { formatUserCode, normaliseUserCode, startDeviceAuthorization } from '../../oauth/grants/device.js';
import { approveDevice } from '../../oauth/grants/grants.js';
import type { Client } from '../../oauth/clients/clients.js';
import type { DeviceGrant, LoginSession, RateLimiter } from '../../store/types.js';
import { clientGate } from '../client-gate.js';
import { formBody, oauthEndpoint, oauthParams } from '../oauth-http.js';
import type { Pages } from '../pages.js';
import { noStore } from '../security-headers.js';
import type { Sessions } from '../session.js';
import type { Signer } from '../signing.js';
import type { Views } from '../views.js';
import { clientLog } from '../../oauth/clients/client-log.js';

const INTERACTION_TTL = 900;
const VERIFY = '/oauth2/device/verify';
const LOGIN = '/oauth2/device/login';
const CONSENT = '/oauth2/device/consent';

export interface DeviceRouteDeps {
  core: CoreDeps;
  sessions: Sessions;
  signer: Signer;
  pages: Pages;
  views: Views;
}

/**
 * RFC 8628: the device authorization endpoint (POST, for devices) and the
 * verification pages (GET, for people): enter the code, sign in, approve.
 */
export function deviceRoutes({ core, sessions, signer, pages, views }: DeviceRouteDeps): Router {
  const router = Router();
  const { log, store } = core;
  // Guessing codes is throttled per address: 20 wrong entries per 10 minutes.
  const authenticate = clientGate(core);
  const guesses: RateLimiter = store.rateLimiter({ name: 'device-code-guess', points: 20, duration: 600 });

  // Each request stores a device grant for device_code_ttl: one address gets only so many (issue 12 #11).
  const { device_authorizations, window } = core.config.address_throttle;
  const starts = store.rateLimiter({ name: 'device-start-address', points: device_authorizations, duration: window });

  router.post('/oauth2/device', noStore, formBody, oauthEndpoint(log, async (req, res) => {
    const counted = await starts.consume(req.ip ?? 'unknown');
    if (!counted.allowed) {
      log.info({ address: req.ip }, 'device authorization refused: throttled');
      throw new OAuthError('temporarily_unavailable', 'too many device authorization requests from this address; retry later', 429).withHeaders({
        'Retry-After': String(Math.max(1, Math.ceil(counted.retryAfterMs / 1000))),
      });
    }
    const params = oauthParams(req);
    const client = await authenticate(req, params);
    res.json(await startDeviceAuthorization(core, client, params));
  }));

  router.get('/oauth2/device', noStore, (req, res) => {
    const given = typeof req.query.user_code === 'string' ? req.query.user_code : '';
    renderEntry(req, res, 200, normaliseUserCode(given) ? given.toUpperCase() : '');
  });

  router.post(VERIFY, noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const typed = (req.body as Record<string, unknown>).user_code;
    const found = await lookup(req, res, typed);
    if (!found) return;
    const session = await sessions.current(req);
    if (await stepDue(req, res, found.device, found.client, session)) return;
    showConsent(req, res, found.device, found.client, session!);
  });

  router.post(LOGIN, noStore, formBody, async (req, res) => {
    const found = await resume(req, res);
    if (!found) return;
    const session = await pages.handleLogin(req, res, loginForm(found.device, found.client));
    if (session) showConsent(req, res, found.device, found.client, session);
  });

  router.post(CONSENT, noStore, formBody, async (req, res) => {
    const found = await resume(req, res);
    if (!found) return;
    const { device, client } = found;
    const session = await sessions.current(req);
    if (!session) return pages.login(req, res, loginForm(device, client), { status: 401, error: 'login.expired' });
    // The step pages carry the same interaction: a session that still owes a step cannot decide.
    if (await stepDue(req, res, device, client, session)) return;
    const approve = (req.body as Record<string, unknown>).decision === 'approve';
    const decided = approve
      ? await approveDevice(store, device.userCode, session, client, device.scope)
      : await store.decideDevice(device.userCode, { status: 'denied' });
    if (!decided) return pages.message(res, 410, { title: 'device.title', heading: 'device.gone_heading', text: 'device.used' });
    log.info({ jid: session.jid, ...clientLog(client), approve }, 'device authorization decided');
    pages.message(res, 200, {
      title: 'device.title',
      heading: approve ? 'device.approved_heading' : 'device.denied_heading',
      text: approve ? 'device.approved' : 'device.denied',
    });
  });

  const loginForm = (device: DeviceGrant, client: Client) => ({
    action: LOGIN,
    interaction: signer.seal('device', device.userCode, INTERACTION_TTL),
    clientName: client.name,
    returnTo: `/oauth2/device?user_code=${encodeURIComponent(device.userCode)}`,
  });

  /**
   * What the authorization endpoint asks of a session, asked here too
   * (mfa.required, the account's factor; an old session signs in again):
   * true when a page was rendered instead of the consent.
   */
  async function stepDue(req: Request, res: Response, device: DeviceGrant, client: Client, session: LoginSession | null): Promise<boolean> {
    const due = await pages.due(session, false);
    switch (due.due) {
      case 'nothing':
        return false;
      case 'sign-in':
        pages.signInAgain(req, res, loginForm(device, client), due.why);
        return true;
      case 'unmet':
        // No acr_values in this flow; kept exhaustive.
        pages.error(res, 400, 'unmet_authentication_requirements', due.description);
        return true;
      default:
        await pages.stepUp(req, res, loginForm(device, client), session!, due);
        return true;
    }
  }

  function showConsent(req: Request, res: Response, device: DeviceGrant, client: Client, session: LoginSession) {
    pages.consent(req, res, {
      action: CONSENT,
      interaction: signer.seal('device', device.userCode, INTERACTION_TTL),
      client,
      scope: device.scope,
      session,
      userCode: formatUserCode(device.userCode),
    });
  }

  function renderEntry(req: Request, res: Response, status: number, userCode: string, error?: string) {
    res.status(status).type('html').send(
      views.render('device', { title: 'device.title', action: VERIFY, csrf: sessions.csrfToken(req, res), userCode, error }),
    );
  }

  /** The pending device grant a typed code names, or the entry page again with why not. */
  async function lookup(req: Request, res: Response, typed: unknown): Promise<{ device: DeviceGrant; client: Client } | null> {
    const address = req.ip ?? 'unknown';
    // Reserve a guess before the lookup (atomic), give it back for a real code:
    // a parallel burst gets at most the limit looked up.
    const budget = await guesses.consume(address);
    if (!budget.allowed) {
      const seconds = Math.ceil(budget.retryAfterMs / 1000);
      res.set('Retry-After', String(seconds));
      renderEntry(req, res, 429, '', 'device.throttled');
      return null;
    }
    const code = normaliseUserCode(typed);
    const device = code ? await store.findDeviceByUserCode(code) : null;
    if (!device || device.expiresAt <= Date.now()) {
      log.info({ address }, 'device code entry refused: unknown or expired code');
      renderEntry(req, res, 400, typeof typed === 'string' ? typed.slice(0, 16) : '', 'device.unknown');
      return null;
    }
    await guesses.refund(address);
    if (device.status !== 'pending') {
      renderEntry(req, res, 400, '', 'device.used');
      return null;
    }
    const client = await core.clients.find(device.clientId);
    if (!client) {
      renderEntry(req, res, 400, '', 'device.unknown');
      return null;
    }
    return { device, client };
  }

  /** A login or consent post: CSRF, then the device grant its sealed user code names. */
  async function resume(req: Request, res: Response): Promise<{ device: DeviceGrant; client: Client } | null> {
    if (!pages.csrfOk(req, res)) return null;
    const userCode = signer.unseal<string>('device', (req.body as Record<string, unknown>).interaction);
    if (!userCode) {
      pages.error(res, 400, 'expired', 'error.interaction');
      return null;
    }
    return lookup(req, res, userCode);
  }

  return router;
}
