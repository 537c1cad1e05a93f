// RFC 7009 revocations of whole grants (by refresh token), each recorded with
// the time its 200 arrived: from then on no token of the grant may be accepted.
import { anyInstance, type LoadContext } from './context.js';
import { post } from './http.js';

export async function revokeStep(ctx: LoadContext): Promise<void> {
  const live = ctx.ledger.chains.filter((c) => c.state === 'live').length;
  if (live < ctx.topo.users.length) return;
  const c = ctx.ledger.take((cs) => (cs.length ? ctx.rng.pick(cs) : undefined));
  if (!c) return;
  try {
    const form: Record<string, string> = { token: c.refresh, token_type_hint: 'refresh_token' };
    if (c.origin === 'device') form.client_id = 'tv';
    const r = await post(ctx.ledger, 'revoke', anyInstance(ctx), '/oauth2/revoke', form, { auth: c.origin !== 'device' });
    if (r.status === 200) {
      c.state = 'revoked';
      c.endedAt = Date.now();
    }
  } finally {
    c.busy = false;
  }
}
