// Issue 8 acceptance: two server processes (`xmpp-oauth serve`) on one real
// Redis behave as one server. Each step of a flow is sent to the instance a
// load balancer might pick; nothing may depend on which one.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { approveDevice } from '../helpers/device.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import {
  addUser, authorizeAcross, errorLines, introspect, newGrant, pollDevice, redeem, refresh, revoke, startDevice, startInstance,
  type Instance,
} from './instances.js';

const ROUNDS = 20;

describe('two instances on one Redis', { timeout: 60_000 }, () => {
  let redis: RedisInstance;
  let a: Instance;
  let b: Instance;
  const browser = new FormBrowser();

  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startInstance({ url: redis.url }), startInstance({ url: redis.url })]);
    await addUser(a.configFile);
  });
  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it('both instances publish the same signing keys (generated once, kept in Redis)', async () => {
    const [ja, jb] = await Promise.all([a, b].map(async (i) => (await fetch(`${i.url}/oauth2/jwks`)).json()));
    assert.deepEqual(ja, jb);
    assert.equal((ja as { keys: unknown[] }).keys.length, 1);
  });

  it('authorization starts on A (authorize + login) and finishes on B (consent POST + code exchange)', async () => {
    const tokens = await newGrant(browser, a.url, b.url);
    assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token);
    assert.equal(await introspect(a.url, tokens.access_token), true, 'a token from B is valid on A');
    const next = await refresh(a.url, tokens.refresh_token);
    assert.equal(next.status, 200, 'a refresh token from B rotates on A');
    const replay = await refresh(b.url, tokens.refresh_token);
    assert.equal(replay.body.error, 'invalid_grant', 'the rotated token is known as used on B');
  });

  it('a CSRF token or session cookie signed with a secret the instances do not share is refused', async () => {
    // Sanity check of the previous test: B really verifies what A signed.
    const stranger = new FormBrowser();
    const other = await startInstance({ url: redis.url }, { cookie_secrets: ['another-cookie-secret-0123456789abcdefgh'] });
    try {
      await assert.rejects(authorizeAcross(stranger, a.url, other.url), /consent POST on the other instance: 403/);
    } finally {
      await other.stop();
    }
  });

  it('a device code issued by A is approved on B and polled on A', async () => {
    const d = await startDevice(a.url);
    const first = await pollDevice(a.url, d.device_code);
    assert.equal(first.body.error, 'authorization_pending');
    const page = await approveDevice(new FormBrowser(), `${b.url}/oauth2/device`, d.user_code);
    assert.equal(page.status, 200);
    assert.match(page.html, /Device connected/);
    await sleep(1100);
    const ok = await pollDevice(a.url, d.device_code);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok(ok.body.access_token && ok.body.refresh_token);
    await sleep(1100);
    const again = await pollDevice(b.url, d.device_code);
    assert.equal(again.status, 400, 'redeemed once, on A; B knows');
  });

  it('a token issued by A, revoked on B, is inactive on A at once', async () => {
    const tokens = await newGrant(browser, a.url, a.url);
    assert.equal(await introspect(a.url, tokens.access_token), true);
    await revoke(b.url, tokens.access_token);
    assert.equal(await introspect(a.url, tokens.access_token), false, 'no per-process cache hides the revocation');
    assert.equal((await refresh(a.url, tokens.refresh_token)).body.error, 'invalid_grant');
    const userinfo = await fetch(`${a.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 401);
  });

  // "Exactly one wins, the other sees the replay rules": the loser gets invalid_grant
  // (and, being a replay, revokes the grant), but the winner's answer was decided
  // by the atomic step and must be a 200. Every round is run before asserting, so
  // a failure reports how often each outcome happened.
  const tally = (outcomes: string[]) => {
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
    return JSON.stringify(counts);
  };
  const outcome = (r: { status: number; body: Record<string, unknown> }) =>
    r.status === 200 ? '200' : `${r.status} ${String(r.body.error)}: ${String(r.body.error_description)}`;

  it(`concurrent refresh of one token on A and B: exactly one success (${ROUNDS} rounds)`, async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const tokens = await newGrant(browser, round % 2 ? a.url : b.url, round % 2 ? b.url : a.url);
      const results = await Promise.all([refresh(a.url, tokens.refresh_token), refresh(b.url, tokens.refresh_token)]);
      for (const r of results) assert.ok(r.status === 200 || r.body.error === 'invalid_grant', `round ${round}: ${JSON.stringify(r)}`);
      outcomes.push(results.map(outcome).sort().join(' | '));
    }
    const good = outcomes.filter((o) => o.startsWith('200 |') || o.endsWith('| 200')).filter((o) => o !== '200 | 200');
    assert.equal(good.length, ROUNDS, `rounds with exactly one winner: ${good.length}/${ROUNDS}; outcomes: ${tally(outcomes)}`);
  });

  it(`concurrent redemption of one code on A and B: exactly one success (${ROUNDS} rounds)`, async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { code, verifier } = await authorizeAcross(browser, a.url, b.url);
      const results = await Promise.all([redeem(a.url, code, verifier), redeem(b.url, code, verifier)]);
      for (const r of results) assert.ok(r.status === 200 || r.body.error === 'invalid_grant', `round ${round}: ${JSON.stringify(r)}`);
      outcomes.push(results.map(outcome).sort().join(' | '));
    }
    const good = outcomes.filter((o) => o.startsWith('200 |') || o.endsWith('| 200')).filter((o) => o !== '200 | 200');
    assert.equal(good.length, ROUNDS, `rounds with exactly one winner: ${good.length}/${ROUNDS}; outcomes: ${tally(outcomes)}`);
  });

  it('neither instance logged an error', () => {
    assert.deepEqual([...errorLines(a), ...errorLines(b)], []);
  });
});
