// Revoked grants must stay revoked: their tokens are tried everywhere, again
// and again through the faults: introspection on both instances, the refresh
// token at the token endpoint, the access token as an XMPP PLAIN password.
// Any acceptance is a resurrection.
import type { Chain } from '../ledger.js';
import type { LoadContext } from './context.js';
import { post, RS_BASIC } from './http.js';
import { refreshCall } from './refresh.js';
import { xmppLogin } from './xmpp-login.js';

const ended = (c: Chain) => c.state === 'revoked' || c.state === 'replayed';

export async function checkRevoked(ctx: LoadContext, c: Chain, thorough: boolean): Promise<void> {
  const resurrected = (how: string) => ctx.ledger.resurrections.push({ chain: c.id, how, at: Date.now(), revokedAt: c.endedAt! });
  const access = thorough ? [c.access, ...c.oldAccess] : [c.access];
  for (const instance of ctx.topo.instances) {
    for (const token of access) {
      const r = await post(ctx.ledger, 'revoked:introspect', instance, '/oauth2/introspect', { token }, { auth: RS_BASIC, expected: (a) => a.status === 200 && a.body.active === false });
      if (r.status === 200 && r.body.active === true) resurrected(`introspection on ${instance.name}`);
    }
  }
  const r = await refreshCall(ctx, c, c.refresh, 'revoked:refresh', (a) => a.status === 400);
  if (r.status === 200) {
    resurrected('refresh');
    c.refresh = String(r.body.refresh_token);
    c.access = String(r.body.access_token);
  }
  if ((await xmppLogin(ctx.ledger, ctx.topo.xmppTarget(), c.user, ctx.rng.pick(['token-plain', 'oauthbearer'] as const), c.access, false)) === 'login-ok') resurrected('XMPP login');
}

export async function resurrectionStep(ctx: LoadContext): Promise<void> {
  const revoked = ctx.ledger.chains.filter(ended);
  if (revoked.length) await checkRevoked(ctx, ctx.rng.pick(revoked), false);
}

/** At the end: every token of every revoked grant, once more. */
export async function finalSweep(ctx: LoadContext): Promise<void> {
  for (const c of ctx.ledger.chains.filter(ended)) await checkRevoked(ctx, c, true);
}
