import { Router } from 'express';
import type { Store } from '../../store/types.js';

export interface HealthDeps {
  store: Store;
  /** Whether the XMPP component link is up; undefined when the link is disabled. */
  xmppOnline: () => boolean | undefined;
}

export function healthRoutes({ store, xmppOnline }: HealthDeps): Router {
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
    const xmpp = xmppOnline();
    const ready = redis.ok;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'unavailable',
      store: redis,
      xmpp: xmpp === undefined ? { enabled: false } : { enabled: true, online: xmpp },
    });
  });
  return router;
}
