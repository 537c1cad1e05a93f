import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { Accounts, AccountError } from '../../src/accounts/accounts.js';
import { normaliseJid, parseBareJid } from '../../src/accounts/jid.js';
import { defaultHashConcurrency, hashPassword, hashQueue, setHashConcurrency, verifyPassword } from '../../src/accounts/passwords.js';
import { validate } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/store/memory.js';

describe('accounts (memory store)', () => {
  let store: MemoryStore;
  let accounts: Accounts;

  before(async () => {
    store = new MemoryStore();
    accounts = new Accounts(store, { per_account: 3, per_address: 5, window: 60 }, silentLogger);
    await accounts.create('alice@example.org', 'alice password');
  });
  after(() => store.close());

  it('normalises bare JIDs and refuses what is not one', () => {
    assert.equal(normaliseJid('Alice@Example.ORG'), 'alice@example.org');
    assert.equal(normaliseJid('alice@example.org/phone'), null);
    assert.equal(normaliseJid('@example.org'), null);
    assert.equal(normaliseJid('al ice@example.org'), null);
    assert.equal(normaliseJid('alice@exa_mple.org'), null);
    assert.throws(() => parseBareJid('no-at-sign'), /bare JID/);
  });

  it('refuses duplicates, short passwords and bad JIDs with a typed error', async () => {
    await assert.rejects(accounts.create('ALICE@example.org', 'whatever123'), (e: AccountError) => e.code === 'exists');
    await assert.rejects(accounts.create('bob@example.org', 'short'), (e: AccountError) => e.code === 'bad-password');
    await assert.rejects(accounts.create('bob@@example.org', 'long enough'), (e: AccountError) => e.code === 'bad-jid');
    await assert.rejects(accounts.setPassword('nobody@example.org', 'long enough'), (e: AccountError) => e.code === 'missing');
  });

  it('takes about as long for an unknown user as for a wrong password', async () => {
    const time = async (jid: string) => {
      const t = performance.now();
      await accounts.verify(jid, 'wrong password');
      return performance.now() - t;
    };
    const perAccount = store.rateLimiter({ name: 'login-account', points: 3, duration: 60 });
    await accounts.verify('warmup@example.org', 'x'); // the dummy hash is made once
    // Interleaved, in alternating order, so a burst of load on a shared CI
    // machine falls on both sides instead of on whichever ran first.
    let known = 0;
    let unknown = 0;
    for (let round = 0; round < 6; round++) {
      // Stay under the per-account throttle: a throttled attempt skips the hash.
      await Promise.all(['alice@example.org', 'nobody@example.org'].map((jid) => perAccount.reset(jid)));
      if (round % 2 === 0) {
        known += await time('alice@example.org');
        unknown += await time('nobody@example.org');
      } else {
        unknown += await time('nobody@example.org');
        known += await time('alice@example.org');
      }
    }
    const ratio = known / unknown;
    assert.ok(ratio > 0.5 && ratio < 2, `known ${known.toFixed(1)} ms vs unknown ${unknown.toFixed(1)} ms`);
  });

  it('throttles an account after repeated failures, even for the right password', async () => {
    const a = new Accounts(store, { per_account: 3, per_address: 100, window: 60 }, silentLogger);
    await a.create('carol@example.org', 'carol password');
    for (let i = 0; i < 3; i++) assert.deepEqual(await a.verify('carol@example.org', 'nope nope'), { ok: false, reason: 'invalid' });
    const blocked = await a.verify('carol@example.org', 'carol password');
    assert.equal(blocked.ok, false);
    assert.equal(!blocked.ok && blocked.reason, 'throttled');
    assert.ok(!blocked.ok && blocked.reason === 'throttled' && blocked.retryAfterMs > 0);
  });

  it('throttles a client address across accounts', async () => {
    const a = new Accounts(store, { per_account: 100, per_address: 4, window: 60 }, silentLogger);
    for (let i = 0; i < 4; i++) await a.verify(`user${i}@example.org`, 'guess guess', '192.0.2.7');
    const r = await a.verify('alice@example.org', 'alice password', '192.0.2.7');
    assert.equal(!r.ok && r.reason, 'throttled');
    assert.equal((await a.verify('alice@example.org', 'alice password', '192.0.2.8')).ok, true, 'another address is unaffected');
  });
});

describe('password hashing concurrency', () => {
  after(() => setHashConcurrency(defaultHashConcurrency()));

  it('defaults to one hash fewer than the machine has cores, at least one', () => {
    assert.equal(defaultHashConcurrency(), Math.max(1, availableParallelism() - 1));
  });

  it('runs no more hashes at once than configured; the rest wait their turn and all complete', async () => {
    const stored = await hashPassword('a long enough password');
    setHashConcurrency(2);
    const checks = Array.from({ length: 5 }, (_, i) => verifyPassword(stored, i % 2 ? 'a long enough password' : 'wrong password!'));
    assert.deepEqual(hashQueue(), { running: 2, waiting: 3 });
    assert.deepEqual(await Promise.all(checks), [false, true, false, true, false]);
    assert.deepEqual(hashQueue(), { running: 0, waiting: 0 });
  });

  it('is an operator setting with a lower bound', () => {
    assert.equal(validate({ password_hash_concurrency: 3 }).password_hash_concurrency, 3);
    assert.throws(() => validate({ password_hash_concurrency: 0 }), /password_hash_concurrency/);
  });
});
