// Issue 8 acceptance: the core flows against a real 3-master Redis Cluster
// (three redis-server processes in cluster mode on loopback, joined with
// `redis-cli --cluster create`). Two `xmpp-oauth serve` processes share it, and
// the operator commands (user add/remove) talk to it too. A multi-key command
// or script whose keys are not in one slot fails here with CROSSSLOT.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { approveDevice } from '../helpers/device.js';
import { PASSWORD } from '../helpers/flow.js';
import { redisCli, startCluster, type RedisCluster } from '../helpers/redis-topology.js';
import {
  addUser, authorizeAcross, errorLines, introspect, newGrant, pollDevice, redeem, refresh, revoke, startDevice, startInstance,
  type Instance,
} from './instances.js';

describe('Redis Cluster (3 masters)', { timeout: 60_000 }, () => {
  let cluster: RedisCluster;
  let a: Instance;
  let b: Instance;
  const browser = new FormBrowser();

  before(async () => {
    cluster = await startCluster(3);
    [a, b] = await Promise.all([startInstance({ cluster: cluster.nodes }), startInstance({ cluster: cluster.nodes })]);
    await addUser(a.configFile);
  });
  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await cluster?.stop();
  });

  it('both instances start on the cluster and share one signing key', async () => {
    const [ja, jb] = await Promise.all([a, b].map(async (i) => (await fetch(`${i.url}/oauth2/jwks`)).json()));
    assert.deepEqual(ja, jb);
    for (const i of [a, b]) assert.equal((await fetch(`${i.url}/readyz`)).status, 200);
  });

  it('authorization code + PKCE, login on A, consent and exchange on B', async () => {
    const tokens = await newGrant(browser, a.url, b.url);
    assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token);
    assert.equal(await introspect(a.url, tokens.access_token), true);
    const userinfo = await fetch(`${b.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 200);
    assert.equal(((await userinfo.json()) as { sub: string }).sub, 'xmpp:alice@localhost');
  });

  it('a replayed code is refused and revokes its grant', async () => {
    const { code, verifier } = await authorizeAcross(browser, a.url, a.url);
    const first = await redeem(a.url, code, verifier);
    assert.equal(first.status, 200);
    const again = await redeem(b.url, code, verifier);
    assert.equal(again.body.error, 'invalid_grant');
    assert.equal(await introspect(a.url, first.body.access_token as string), false, 'the replay revoked the grant');
  });

  it('refresh tokens rotate across instances; a replayed one revokes the grant', async () => {
    const tokens = await newGrant(browser, b.url, a.url);
    let current = tokens.refresh_token;
    for (let i = 0; i < 4; i++) {
      const r = await refresh(i % 2 ? a.url : b.url, current);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      current = r.body.refresh_token as string;
    }
    const replay = await refresh(a.url, tokens.refresh_token);
    assert.equal(replay.body.error, 'invalid_grant');
    assert.equal((await refresh(b.url, current)).body.error, 'invalid_grant', 'the whole grant went with the replay');
  });

  it('revocation on B is seen on A at once; the account page (user index + grants, other slots) renders', async () => {
    const tokens = await newGrant(browser, a.url, a.url);
    assert.equal(await introspect(a.url, tokens.access_token), true);
    await revoke(b.url, tokens.refresh_token, 'refresh_token');
    assert.equal(await introspect(a.url, tokens.access_token), false);
    assert.equal((await refresh(a.url, tokens.refresh_token)).body.error, 'invalid_grant');
    // The account page reads the user's grant index ({u:jid}) and each grant ({g:id}): other slots.
    const page = await browser.get(`${b.url}/account`);
    assert.equal(page.status, 200);
  });

  it('device code: issued by A, approved on B, polled on A; the refresh token works', async () => {
    const d = await startDevice(a.url);
    assert.equal((await pollDevice(a.url, d.device_code)).body.error, 'authorization_pending');
    const page = await approveDevice(new FormBrowser(), `${b.url}/oauth2/device`, d.user_code);
    assert.equal(page.status, 200, page.html.slice(0, 300));
    await sleep(1100);
    const ok = await pollDevice(a.url, d.device_code);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const r = await fetch(`${b.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: ok.body.refresh_token as string, client_id: 'tv' }),
    });
    assert.equal(r.status, 200);
    // A denied code also cleans up across slots.
    const denied = await startDevice(b.url);
    await approveDevice(new FormBrowser(), `${a.url}/oauth2/device`, denied.user_code, { decision: 'deny' });
    await sleep(1100);
    assert.equal((await pollDevice(b.url, denied.device_code)).body.error, 'access_denied');
  });

  it('a failed login is counted by the rate limiter on the cluster (401, not 500)', async () => {
    const stranger = new FormBrowser();
    const login = await (await stranger.get(`${a.url}/account`)).text();
    const res = await stranger.submit(a.url, login, { username: 'alice@localhost', password: 'wrong password' });
    assert.equal(res.status, 401);
  });

  it('operator commands work on the cluster: removing an account revokes its grants', async () => {
    await addUser(a.configFile, 'bob@localhost');
    const bob = new FormBrowser();
    const { code, verifier } = await authorizeWithUser(bob, 'bob@localhost');
    const tokens = await redeem(b.url, code, verifier);
    assert.equal(tokens.status, 200);
    const listed = await runCli(['user', 'list'], { env: { XMPP_OAUTH_CONFIG: a.configFile } });
    assert.match(listed.stdout, /bob@localhost/);
    const removed = await runCli(['user', 'remove', 'bob@localhost'], { env: { XMPP_OAUTH_CONFIG: a.configFile } });
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(await introspect(b.url, tokens.body.access_token as string), false);
  });

  it('keys really are spread over the three masters', async () => {
    const sizes = await Promise.all(cluster.ports.map(async (p) => Number((await redisCli(p, 'DBSIZE')).trim())));
    assert.ok(sizes.filter((n) => n > 0).length >= 2, `keys per master: ${sizes.join(', ')}`);
    const limiterKeys = (await Promise.all(cluster.ports.map((p) => redisCli(p, 'KEYS', 'xo:rl:*')))).join('').trim();
    assert.notEqual(limiterKeys, '', 'rate-limiter counters are kept in the cluster');
  });

  it('issue 14: revocation news crosses the cluster: a revocation on one store is heard by another', async () => {
    const { createStore } = await import('../../src/store/index.js');
    const [one, two] = [createStore({ cluster: cluster.nodes, keyPrefix: 'cam:' }), createStore({ cluster: cluster.nodes, keyPrefix: 'cam:' })];
    try {
      const heard: string[] = [];
      let subscribed = 0;
      two.onRevocation((e) => heard.push(`${e.grantId} ${e.jid}`), () => subscribed++);
      for (let i = 0; i < 100 && subscribed === 0; i++) await sleep(100);
      const now = Date.now();
      await one.saveGrant({ id: 'camgrant', jid: 'carol@localhost', clientId: 'c', scope: ['xmpp'], createdAt: now, lastUsedAt: now });
      assert.equal(await one.revokeGrant('camgrant'), true);
      for (let i = 0; i < 50 && heard.length === 0; i++) await sleep(100);
      assert.deepEqual(heard, ['camgrant carol@localhost']);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('no CROSSSLOT or other error was logged', () => {
    assert.deepEqual([...errorLines(a), ...errorLines(b)], []);
    const crossslot = [...a.logs, ...b.logs].filter((l) => JSON.stringify(l).includes('CROSSSLOT'));
    assert.deepEqual(crossslot, []);
  });

  async function authorizeWithUser(user: FormBrowser, jid: string) {
    // authorizeAcross signs in as alice; bob signs in first through the account page.
    const page = await (await user.get(`${a.url}/account`)).text();
    const res = await user.submit(a.url, page, { username: jid, password: PASSWORD });
    assert.ok(res.status === 200 || res.status === 303, `login as ${jid}: ${res.status}`);
    return authorizeAcross(user, a.url, b.url);
  }
});
