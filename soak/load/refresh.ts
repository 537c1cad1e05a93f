// Refresh chains: each chain is one client's grant, used by one request at a
// time, and every rotation is recorded. A failed request (5xx, 429, connection
// refused or dropped) is retried with the same token on either instance, as a
// client would; invalid_grant on a chain nobody revoked is a lost chain. Now and
// then a chain replays its previous token on purpose (the replay test): the
// grant must then be revoked.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Chain } from '../ledger.js';
import { anyInstance, type LoadContext } from './context.js';
import { post, type Answer } from './http.js';

const clientParams = (c: Chain): { auth: boolean; form: Record<string, string> } =>
  c.origin === 'device' ? { auth: false, form: { client_id: 'tv' } } : { auth: true, form: {} };

export function refreshCall(ctx: LoadContext, c: Chain, token: string, kind: string, expected?: (a: Answer) => boolean): Promise<Answer> {
  const { auth, form } = clientParams(c);
  return post(ctx.ledger, kind, anyInstance(ctx), '/oauth2/token', { ...form, grant_type: 'refresh_token', refresh_token: token }, { auth, expected });
}

export async function refreshStep(ctx: LoadContext): Promise<void> {
  const c = ctx.ledger.take((cs) => (cs.length ? ctx.rng.pick(cs) : undefined));
  if (!c) return;
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = await refreshCall(ctx, c, c.refresh, 'refresh');
      if (r.status === 200) {
        c.oldAccess.push(c.access);
        c.previousRefresh = c.refresh;
        c.access = String(r.body.access_token);
        c.refresh = String(r.body.refresh_token);
        c.rotations.push(Date.now());
        break;
      }
      if (r.status === 400 || r.status === 401) {
        c.state = 'lost';
        c.endedAt = Date.now();
        c.lostDetail = `${r.status} ${String(r.body.error ?? '')} after ${c.rotations.length} rotations`;
        return;
      }
      // 5xx, 429 or no answer: the client does not know whether it rotated; it retries with what it holds.
      if (Date.now() > deadline || ctx.stopping()) return;
      await sleep(500);
    }
    // The replay test, on about one rotation in thirty.
    if (c.previousRefresh && ctx.rng.next() < 1 / 30) {
      const replay = await refreshCall(ctx, c, c.previousRefresh, 'replay-test', (a) => a.status === 400);
      if (replay.status === 400) {
        c.state = 'replayed';
        c.endedAt = Date.now();
      }
    }
  } finally {
    c.busy = false;
  }
}
