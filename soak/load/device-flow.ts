// RFC 8628 device flows: authorization on one instance, the person at the
// verification page (cookies, forms) on either, polling on either.
import { setTimeout as sleep } from 'node:timers/promises';
import { approveDevice } from '../../test/helpers/device.js';
import { DEVICE_GRANT } from '../../test/scale/instances.js';
import { anyInstance, type LoadContext } from './context.js';
import { post, RecordingBrowser } from './http.js';

export async function deviceFlow(ctx: LoadContext): Promise<void> {
  const user = ctx.ledger.freeUser(ctx.topo.users, 'device', (us) => ctx.rng.pick(us));
  if (!user) return;
  try {
    await flow(ctx, user);
  } finally {
    ctx.ledger.release(user, 'device');
  }
}

async function flow(ctx: LoadContext, user: string): Promise<void> {
  const issuer = anyInstance(ctx);
  const started = await post(ctx.ledger, 'device:authorize', issuer, '/oauth2/device', { client_id: 'tv', scope: 'openid offline_access xmpp' }, { auth: false });
  if (started.status !== 200) throw new Error(`device authorization: ${started.status}`);
  const { device_code, user_code, verification_uri, interval } = started.body as { device_code: string; user_code: string; verification_uri: string; interval: number };
  const approver = anyInstance(ctx);
  const page = new URL(verification_uri);
  const browser = new RecordingBrowser(ctx.ledger, 'device:page', ctx.topo.instances);
  const decided = await approveDevice(browser, approver.url + page.pathname, user_code, { username: user });
  if (decided.status !== 200) throw new Error(`device approval page: ${decided.status}`);
  for (let attempt = 0; attempt < 20 && !ctx.stopping(); attempt++) {
    await sleep(interval * 1000);
    const poll = await post(ctx.ledger, 'device:poll', anyInstance(ctx), '/oauth2/token', { grant_type: DEVICE_GRANT, device_code, client_id: 'tv' }, {
      auth: false,
      expected: (a) => a.body.error === 'authorization_pending' || a.body.error === 'slow_down',
    });
    if (poll.status === 200) {
      ctx.ledger.newChain(user, 'device', String(poll.body.access_token), String(poll.body.refresh_token));
      return;
    }
    if (poll.status === 400 && poll.body.error !== 'authorization_pending' && poll.body.error !== 'slow_down') throw new Error(`device poll: ${String(poll.body.error)}`);
  }
}
