import { Router } from 'express';
import type { Store } from '../../store/types.js';

export interface HealthDeps {
  store: Store;
  /** The XMPP component link's state; undefined when the link is disabled. */
  xmppStatus: () => { online: boolean; standby: boolean } | undefined;
  /** Whether readiness needs the link (readyz.require_xmpp). */
  requireXmpp: boolean;
}

export function healthRoutes({ store, xmppStatus, requireXmpp }: HealthDeps): Router {
  const router = Router();
  // Liveness: the process answers. Never depends on a backend.
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Readiness: can this instance do its job right now?
  router.get('/readyz', async (_req, res) => {
    let redis: { ok: boolean; latency_ms?: number; kind: string };
    try {
      redis = { ok: true, latency_ms: Math.round((await store.ping()) * 100) / 100, kind: store.kind };
    } catch {
      redis = { ok: false, kind: store.kind };
    }
    const xmpp = xmppStatus();
    // Without the link, XMPP logins fail. A standby instance counts as ready:
    // its sibling holds the one component slot, and its HTTP side works.
    const xmppOk = !xmpp || !requireXmpp || xmpp.online || xmpp.standby;
    const ready = redis.ok && xmppOk;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'unavailable',
      store: redis,
      xmpp: xmpp === undefined ? { enabled: false } : { enabled: true, online: xmpp.online, standby: xmpp.standby, required: requireXmpp },
    });
  });
  return router;
}
