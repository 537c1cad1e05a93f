// ejabberd's `oauth_db_type: rest` asks POST {ext_api_url}/oauth/lookup for a
// token presented through SASL X-OAUTH2. We answer from our own tokens, so
// ejabberd clients can log in with them and a revoked grant stops at once.
import express, { Router, type Request, type RequestHandler } from 'express';
import type { CoreDeps } from '../../oauth/context.js';
import { xmppLoginRefusal } from '../../oauth/xmpp-login/xmpp-login.js';
import { inspectToken } from '../../oauth/xmpp-login/xmpp-server-api.js';
import { safeEqual } from '../../util/crypto.js';
import { notLocalBecause } from '../local-request.js';

/** The scope ejabberd's X-OAUTH2 mechanism checks for. */
const EJABBERD_SASL_SCOPE = 'sasl_auth';

const parseJson = express.json({ limit: '8kb', strict: true, inflate: false, type: () => true });

export function ejabberdLookupRoutes(core: CoreDeps): Router {
  const { log } = core;
  const secret = core.config.ejabberd_lookup.secret;
  const router = Router();

  const guard: RequestHandler = (req, res, next) => {
    const refusal = secret ? (secretGiven(req, secret) ? null : 'wrong or missing secret') : notLocalBecause(req, core.config);
    if (!refusal) return next();
    log.info({ ip: req.socket.remoteAddress }, `ejabberd lookup refused: ${refusal}${secret ? '' : ' (no ejabberd_lookup.secret: only local, unproxied callers)'}`);
    res.status(403).set('Cache-Control', 'no-store').json({ error: 'forbidden' });
  };

  const body: RequestHandler = (req, res, next) =>
    parseJson(req, res, (err?: unknown) => {
      if (!err) return next();
      const status = (err as { status?: number }).status === 413 ? 413 : 400;
      log.info({ status }, 'ejabberd lookup refused: body is not small JSON');
      res.status(status).set('Cache-Control', 'no-store').json({ error: 'bad_request' });
    });

  router.post('/oauth/lookup', guard, body, async (req, res, next) => {
    try {
      const token = (req.body as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || !token || token.length > 4096) {
        log.info('ejabberd lookup refused: no token string');
        res.status(400).set('Cache-Control', 'no-store').json({ error: 'bad_request' });
        return;
      }
      const info = await inspectToken(core, token);
      core.metrics?.xmppQuery('ejabberd-lookup', info.active ? 'active' : 'inactive');
      res.set('Cache-Control', 'no-store');
      if (!info.active) {
        res.status(404).json({ error: 'not_found' });
        return;
      }
      // Only a token granted for XMPP logins may open a session, and ejabberd
      // cannot restrict one: an account-only token gets no sasl_auth (review #3).
      const refusal = xmppLoginRefusal(info.scope, { canRestrict: false });
      if (refusal) log.info({ jid: info.jid, grant: info.grantId }, `ejabberd lookup: no sasl_auth, the token ${refusal}`);
      const scope = refusal ? info.scope : [EJABBERD_SASL_SCOPE, ...info.scope];
      res.json({ user: info.jid, scope, expire: info.exp });
    } catch (err) {
      next(err);
    }
  });
  return router;
}

function secretGiven(req: Request, secret: string): boolean {
  const header = req.get('x-lookup-secret') ?? /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1] ?? '';
  return safeEqual(header.trim(), secret);
}
