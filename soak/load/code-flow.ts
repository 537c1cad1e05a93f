// Browser-style authorization code flows through our login and consent pages
// (HTTP with cookies, not Chromium), the pages on one instance and the consent
// POST and code redemption on either: each new grant starts a refresh chain.
import { authorizeAcross } from '../../test/scale/instances.js';
import { anyInstance, type LoadContext } from './context.js';
import { post, RecordingBrowser } from './http.js';

export async function codeFlow(ctx: LoadContext): Promise<void> {
  const user = ctx.ledger.freeUser(ctx.topo.users, 'code', (us) => ctx.rng.pick(us));
  if (!user) return;
  try {
    await flow(ctx, user);
  } finally {
    ctx.ledger.release(user, 'code');
  }
}

async function flow(ctx: LoadContext, user: string): Promise<void> {
  const start = anyInstance(ctx);
  const finish = anyInstance(ctx);
  const browser = new RecordingBrowser(ctx.ledger, 'code-flow:page', ctx.topo.instances);
  const { code, verifier } = await authorizeAcross(browser, start.url, finish.url, user);
  const redeemAt = anyInstance(ctx);
  const r = await post(ctx.ledger, 'code-flow:redeem', redeemAt, '/oauth2/token', {
    grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://app.example/cb',
  });
  if (r.status !== 200) throw new Error(`code redemption: ${r.status} ${String(r.body.error ?? '')}`);
  ctx.ledger.newChain(user, 'code', String(r.body.access_token), String(r.body.refresh_token));
}
