// XMPP logins through the real Prosody and our module: the account password
// (SASL PLAIN), a live chain's access token as the PLAIN password, and the same
// token with OAUTHBEARER.
import { chatSession, plainLogin } from '../../test/helpers/xmpp-client.js';
import { PASSWORD } from '../../test/helpers/flow.js';
import type { Ledger, Outcome } from '../ledger.js';
import type { LoadContext } from './context.js';

export type LoginMethod = 'password' | 'token-plain' | 'oauthbearer';
let resources = 0;

/** One login; recorded; true when the server accepted it. */
export async function xmppLogin(ledger: Ledger, target: { port: number; domain: string }, user: string, method: LoginMethod, secret: string, expected?: boolean): Promise<Outcome> {
  const start = Date.now();
  let outcome: Outcome;
  let detail: string | undefined;
  try {
    if (method === 'oauthbearer') {
      const s = await chatSession(target, user.split('@')[0]!, secret, `soak${++resources}`, { mechanism: 'OAUTHBEARER' });
      await s.stop();
      outcome = 'login-ok';
    } else {
      outcome = (await plainLogin(target, user.split('@')[0]!, secret)) ? 'login-ok' : 'login-refused';
    }
  } catch (err) {
    const e = err as { name?: string; condition?: string; message?: string };
    outcome = e.name === 'SASLError' ? 'login-refused' : 'login-error';
    detail = e.condition ?? e.message?.slice(0, 120);
  }
  ledger.record({ kind: `xmpp:${method}`, start, end: Date.now(), outcome, detail, expected: expected === undefined ? undefined : (outcome === 'login-ok') === expected });
  return outcome;
}

export async function xmppLoginStep(ctx: LoadContext): Promise<void> {
  const method = ctx.rng.pick<LoginMethod>(['password', 'token-plain', 'oauthbearer']);
  const target = ctx.topo.xmppTarget();
  if (method === 'password') {
    const start = Date.now();
    const outcome = await xmppLogin(ctx.ledger, target, ctx.rng.pick(ctx.topo.users), method, PASSWORD, true);
    if (outcome !== 'login-ok') ctx.ledger.refusals.push({ kind: `xmpp:${method}`, start, end: Date.now(), outcome, detail: ctx.ledger.requests.at(-1)?.detail });
    return;
  }
  const c = ctx.ledger.take((cs) => (cs.length ? ctx.rng.pick(cs) : undefined));
  if (!c) return;
  try {
    const start = Date.now();
    const outcome = await xmppLogin(ctx.ledger, target, c.user, method, c.access, true);
    if (outcome !== 'login-ok') ctx.ledger.refusals.push({ kind: `xmpp:${method}`, start, end: Date.now(), chain: c.id, outcome, detail: ctx.ledger.requests.at(-1)?.detail });
  } finally {
    c.busy = false;
  }
}
