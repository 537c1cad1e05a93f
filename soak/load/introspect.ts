// Introspections (RFC 7662) of live chains' current access tokens, on either
// instance: each must say active.
import { anyInstance, type LoadContext } from './context.js';
import { post, RS_BASIC } from './http.js';

export async function introspectStep(ctx: LoadContext): Promise<void> {
  const c = ctx.ledger.take((cs) => (cs.length ? ctx.rng.pick(cs) : undefined));
  if (!c) return;
  try {
    const start = Date.now();
    const r = await post(ctx.ledger, 'introspect', anyInstance(ctx), '/oauth2/introspect', { token: c.access }, { auth: RS_BASIC });
    if (r.status === 200 && r.body.active !== true) ctx.ledger.refusals.push({ kind: 'introspect', start, end: Date.now(), chain: c.id });
  } finally {
    c.busy = false;
  }
}
