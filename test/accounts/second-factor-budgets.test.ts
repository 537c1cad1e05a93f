// Issue 26, after review: the second-factor core on a real redis-server.
// A TOTP code's guesses spend a budget a right password does not refill; new
// recovery codes leave a used TOTP step used; app_passwords_only hands SCRAM
// the account's own salt (an observer sees no switch) and fails at the proof;
// a recovery-code sign-in is recorded as one; XMPP logins from another
// address (another /64) are recorded even within the coalescing window.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { verifierMatches } from '../../src/accounts/scram.js';
import { factorKindsOf } from '../../src/accounts/second-factor/factors.js';
import { SecondFactors } from '../../src/accounts/second-factor/second-factors.js';
import { newTotpSecret, totpCode } from '../../src/accounts/second-factor/totp.js';
import { silentLogger } from '../../src/log.js';
import {
  coalescedAddress,
  recordFactorChange,
  recordSecurityEvent,
  recordXmppLogin,
  securityEventsOf,
  withEventContext,
} from '../../src/oauth/account-life/security-events.js';
import { RedisStore } from '../../src/store/redis.js';
import { useRedisClient } from '../helpers/redis.js';

const PASSWORD = 'alice password 1234';
const THROTTLE = { per_account: 3, per_address: 1000, window: 900 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('issue 26: second factors on redis (review fixes)', () => {
  const redis = useRedisClient();
  let n = 0;

  /** A fresh store (own prefix), an account with TOTP on, and the core parts over it. */
  async function setUp() {
    const store = new RedisStore(redis.client, `sfb${++n}:`);
    const accounts = new Accounts(store, THROTTLE, silentLogger);
    const factors = new SecondFactors(store, { throttle: THROTTLE, issuer: 'test', onChange: (jid, c) => recordFactorChange({ store }, jid, c) }, silentLogger);
    const jid = await accounts.create('alice@example.org', PASSWORD);
    const secret = newTotpSecret();
    const first = totpCode(secret);
    const enrolled = await factors.confirmTotp(jid, secret, first);
    assert.ok(enrolled.ok);
    return { store, accounts, factors, jid, secret, first, recoveryCodes: enrolled.recoveryCodes };
  }

  it('issue 26: wrong TOTP codes stay counted across right passwords: the per-account budget runs out, and only an accepted factor clears it', async () => {
    const { accounts, factors, jid } = await setUp();
    const results: string[] = [];
    for (let round = 0; round < 3; round++) {
      assert.equal((await accounts.verify(jid, PASSWORD, '192.0.2.1')).ok, true, `round ${round}: the password is right`);
      for (let i = 0; i < 2; i++) {
        const r = await factors.check(jid, 'totp', '000000', '192.0.2.1');
        results.push(r.ok ? 'ok' : r.reason);
      }
    }
    assert.deepEqual(results, ['invalid', 'invalid', 'invalid', 'throttled', 'throttled', 'throttled'], 'three guesses per window, whatever the password did');
    // The password's own budget is untouched by code guesses: the password still signs in.
    assert.equal((await accounts.verify(jid, PASSWORD, '192.0.2.1')).ok, true);

    // A second account: a right factor forgives the wrong ones before it.
    const other = await setUp();
    assert.equal((await other.factors.check(other.jid, 'totp', '000000')).ok, false);
    assert.equal((await other.factors.check(other.jid, 'totp', '000000')).ok, false);
    assert.equal((await other.factors.check(other.jid, 'recovery', other.recoveryCodes[0]!)).ok, true);
    for (let i = 0; i < 3; i++) assert.deepEqual(await other.factors.check(other.jid, 'totp', '000000'), { ok: false, reason: 'invalid' }, `guess ${i} after the reset`);
  });

  it('issue 26: new recovery codes leave the TOTP factor and its used step alone: the code just used does not sign in again', async () => {
    const { store, factors, jid, first } = await setUp();
    const before = await store.secondFactors.get(jid);
    const codes = await factors.newRecoveryCodes(jid);
    assert.equal(codes?.length, 10);
    assert.deepEqual(await factors.check(jid, 'totp', first), { ok: false, reason: 'invalid' }, 'the confirming code stays spent');
    const afterwards = await store.secondFactors.get(jid);
    assert.deepEqual(afterwards?.totp, before?.totp, 'the factor itself is unchanged');
    assert.equal(afterwards?.recoveryCodesLeft, 10);
    assert.equal((await factors.check(jid, 'recovery', codes![0]!)).ok, true, 'the new codes work');
  });

  it('issue 26: under app_passwords_only SCRAM gets the account\'s own salt and iterations, and no password matches the verifier', async () => {
    const { accounts, factors, jid } = await setUp();
    // Each lookup is an attempt (budget 3): a success report gives it back, as Prosody's would.
    const lookup = async (hash: 'SHA-1' | 'SHA-256') => {
      const r = await accounts.scramVerifier(jid, hash);
      await accounts.scramSucceeded(jid);
      assert.ok(r.ok);
      return r.verifier;
    };
    const real = { 'SHA-1': await lookup('SHA-1'), 'SHA-256': await lookup('SHA-256') };
    for (const hash of ['SHA-1', 'SHA-256'] as const) assert.equal(await verifierMatches(hash, real[hash], PASSWORD), true, 'anywhere: the real verifier');
    assert.ok(await factors.setPasswordLogins(jid, 'app_passwords_only'));
    for (const hash of ['SHA-1', 'SHA-256'] as const) {
      const v = await lookup(hash);
      assert.equal(v.salt, real[hash].salt, `${hash}: the real salt, not the decoy's`);
      assert.equal(v.iterations, real[hash].iterations);
      assert.notEqual(v.storedKey, real[hash].storedKey);
      assert.equal(await verifierMatches(hash, v, PASSWORD), false, `${hash}: the proof fails`);
      assert.deepEqual(await lookup(hash), v, 'the same at every attempt');
    }
  });

  it('issue 26: a sign-in finished with a recovery code is recorded as one; a TOTP one as a one-time code', async () => {
    const { store, factors, jid, recoveryCodes, secret } = await setUp();
    await withEventContext({ address: '192.0.2.7' }, async () => {
      assert.equal((await factors.check(jid, 'recovery', recoveryCodes[1]!)).ok, true);
      await recordSecurityEvent({ store }, jid, { kind: 'web-sign-in', method: 'password', secondFactor: 'otp' });
    });
    await withEventContext({ address: '192.0.2.7' }, async () => {
      // The next step's code (the window takes one step either side): this step went to the set-up.
      assert.equal((await factors.check(jid, 'totp', totpCode(secret, Date.now() + 30_000))).ok, true);
      await recordSecurityEvent({ store }, jid, { kind: 'web-sign-in', method: 'password', secondFactor: 'otp' });
    });
    const signIns = (await securityEventsOf({ store }, jid)).filter((e) => e.kind === 'web-sign-in');
    assert.deepEqual(signIns.map((e) => (e as { secondFactor?: string }).secondFactor), ['otp', 'recovery-code']);
  });

  it('issue 26: XMPP logins are coalesced per address (an IPv6 /64): another address within the window is recorded', async () => {
    const store = new RedisStore(redis.client, `sfb${++n}:`);
    const jid = 'bob@example.org';
    const login = (address: string) => recordXmppLogin({ store }, jid, { via: 'password', mechanism: 'PLAIN', address });
    login('192.0.2.1');
    login('192.0.2.1');
    login('2001:db8:1:2::5');
    login('2001:db8:1:2:ffff::9');
    login('198.51.100.66');
    await sleep(200);
    const addresses = (await securityEventsOf({ store }, jid)).map((e) => e.address);
    assert.deepEqual(addresses, ['198.51.100.66', '2001:db8:1:2::5', '192.0.2.1']);
    assert.equal(coalescedAddress('2001:0db8:0001:0002:0:0:0:5'), '2001:db8:1:2::/64');
    assert.equal(coalescedAddress('::ffff:192.0.2.1'), '192.0.2.1');
  });

  it('issue 26: a known account\'s SCRAM lookup reads where the password works beside the account; factor kinds and the passkey user handle take one round trip', async () => {
    const { store, accounts, jid } = await setUp();
    // Counts commands, and those sent after a reply came back (a second round trip).
    const wrapped = redis.client as unknown as { sendCommand(c: { name: string }, ...r: unknown[]): Promise<unknown> };
    const original = wrapped.sendCommand;
    let trace = { sent: [] as string[], late: [] as string[], replied: false };
    wrapped.sendCommand = function (this: unknown, command: { name: string }, ...rest: unknown[]) {
      (trace.replied ? trace.late : trace.sent).push(command.name);
      const p = original.call(this, command, ...rest) as Promise<unknown>;
      void Promise.resolve(p).then(() => (trace.replied = true), () => (trace.replied = true));
      return p;
    };
    const measure = async (fn: () => Promise<unknown>) => {
      await fn(); // warm: scripts loaded, the decoy secret read
      trace = { sent: [], late: [], replied: false };
      await fn();
      return trace;
    };
    try {
      const scram = await measure(() => accounts.scramVerifier(jid, 'SHA-256'));
      assert.deepEqual(scram.late, [], `SCRAM lookup in one round trip: ${scram.sent.join(' ')} | ${scram.late.join(' ')}`);
      const kinds = await measure(() => factorKindsOf(store, jid));
      assert.deepEqual(kinds.late, []);
      assert.equal(kinds.sent.filter((c) => c === 'hgetall').length, 3, `the account read once: ${kinds.sent.join(' ')}`);
      const handle = await measure(() => store.passkeys.userHandle(jid, 'fresh-handle'));
      assert.deepEqual(handle.late, [], `user handle in one round trip: ${handle.sent.join(' ')} | ${handle.late.join(' ')}`);
    } finally {
      wrapped.sendCommand = original;
    }
  });
});
