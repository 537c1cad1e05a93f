// Accounts keep SCRAM verifiers beside argon2id, and an imported account (SCRAM
// record only) signs in with its old password, which then fills in the rest.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { Accounts, AccountError } from '../../src/accounts/accounts.js';
import { makeVerifier, verifierMatches } from '../../src/accounts/scram.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/store/memory.js';

const FAST = { sha1_iterations: 4096, sha256_iterations: 4096 };

describe('accounts with SCRAM records (memory store)', () => {
  let store: MemoryStore;
  let accounts: Accounts;

  before(() => {
    store = new MemoryStore();
    accounts = new Accounts(store, { per_account: 100, per_address: 100, window: 60 }, silentLogger, FAST);
  });
  after(() => store.close());

  it('every password set stores argon2id and both SCRAM verifiers, never the password', async () => {
    await accounts.create('carol@example.org', 'carol password 1');
    const a = (await store.getAccount('carol@example.org'))!;
    assert.match(a.passwordHash, /^\$argon2id\$/);
    assert.equal(await verifierMatches('SHA-1', a.scram!['SHA-1']!, 'carol password 1'), true);
    assert.equal(await verifierMatches('SHA-256', a.scram!['SHA-256']!, 'carol password 1'), true);
    assert.equal(a.scram!['SHA-1']!.iterations, 4096, 'iterations come from the settings');
    assert.doesNotMatch(JSON.stringify(a), /carol password 1/);

    await accounts.setPassword('carol@example.org', 'carol password 2');
    const b = (await store.getAccount('carol@example.org'))!;
    for (const hash of ['SHA-1', 'SHA-256'] as const) {
      assert.equal(await verifierMatches(hash, b.scram![hash]!, 'carol password 1'), false, `old password fails ${hash}`);
      assert.equal(await verifierMatches(hash, b.scram![hash]!, 'carol password 2'), true, `new password works ${hash}`);
    }
  });

  it('an imported SCRAM-SHA-1 record: the old password signs in, a wrong one does not, and the first login adds argon2id and SCRAM-SHA-256', async () => {
    const record = await makeVerifier('SHA-1', 'dave old password', 10000, Buffer.from('3f2a9e4c-uuid-as-prosody-writes'));
    assert.equal(await accounts.importScram('Dave@Example.org', { 'SHA-1': record }), 'created');
    assert.equal((await accounts.verify('dave@example.org', 'not it')).ok, false);
    let a = (await store.getAccount('dave@example.org'))!;
    assert.equal(a.passwordHash, '', 'a failed login adds nothing');

    assert.equal((await accounts.verify('dave@example.org', 'dave old password')).ok, true);
    a = (await store.getAccount('dave@example.org'))!;
    assert.match(a.passwordHash, /^\$argon2id\$/);
    assert.deepEqual(a.scram!['SHA-1'], record, 'the imported record is kept as it is (no downgrade, no change)');
    assert.equal(await verifierMatches('SHA-256', a.scram!['SHA-256']!, 'dave old password'), true);
    assert.equal((await accounts.verify('dave@example.org', 'dave old password')).ok, true, 'then argon2id answers');
  });

  it('import is idempotent, reports collisions, and refuses unusable records', async () => {
    const record = await makeVerifier('SHA-1', 'erin password', 4096);
    assert.equal(await accounts.importScram('erin@example.org', { 'SHA-1': record }), 'created');
    assert.equal(await accounts.importScram('erin@example.org', { 'SHA-1': record }), 'unchanged');
    const other = await makeVerifier('SHA-1', 'someone else', 4096);
    assert.equal(await accounts.importScram('erin@example.org', { 'SHA-1': other }), 'conflict');
    await assert.rejects(accounts.importScram('frank@example.org', { 'SHA-1': { ...record, iterations: 10 } }), AccountError);
    assert.equal(await store.accountExists('frank@example.org'), false);
  });

  it('a new password SASLprep refuses is refused clearly; an imported one gets argon2id alone and keeps working', async () => {
    await assert.rejects(accounts.create('hugo@example.org', 'pass\u{1F600}word1'), (err: AccountError) => err.code === 'bad-password' && /SASLprep/.test(err.message));
    assert.equal(await accounts.importPassword('ines@example.org', 'pass\u{1F600}word1'), 'created');
    const a = (await store.getAccount('ines@example.org'))!;
    assert.match(a.passwordHash, /^\$argon2id\$/);
    assert.equal(a.scram, undefined, 'no verifier can exist for it');
    assert.equal((await accounts.verify('ines@example.org', 'pass\u{1F600}word1')).ok, true);
    assert.equal(await accounts.importPassword('ines@example.org', 'pass\u{1F600}word1'), 'unchanged');
  });

  it('a dry-run import of a plaintext password writes nothing, not even the records a login would complete', async () => {
    await store.createAccount({ jid: 'jo@example.org', passwordHash: (await store.getAccount('ines@example.org'))!.passwordHash, createdAt: Date.now(), epoch: 'e' });
    assert.equal(await accounts.importPassword('jo@example.org', 'pass\u{1F600}word1', { dryRun: true }), 'unchanged');
    assert.equal((await store.getAccount('jo@example.org'))!.scram, undefined);
  });

  it('a wrong password costs an argon2id even against an imported record (the time does not tell which accounts were imported)', async () => {
    const record = await makeVerifier('SHA-1', 'kai password', 10000);
    await accounts.importScram('kai@example.org', { 'SHA-1': record });
    const time = async (jid: string) => {
      const t = performance.now();
      await accounts.verify(jid, 'wrong wrong wrong');
      return performance.now() - t;
    };
    const imported = Math.min(await time('kai@example.org'), await time('kai@example.org'));
    const unknown = Math.min(await time('nobody@example.org'), await time('nobody@example.org'));
    // Both pay the dummy argon2id (~10 ms or more); a PBKDF2 alone is ~2 ms.
    assert.ok(imported >= unknown * 0.6, `imported ${imported.toFixed(1)} ms vs unknown ${unknown.toFixed(1)} ms`);
  });

  it('an account from before SCRAM gets its verifiers at the next password login', async () => {
    await store.createAccount({ jid: 'gina@example.org', passwordHash: (await store.getAccount('carol@example.org'))!.passwordHash, createdAt: Date.now(), epoch: 'e1' });
    assert.equal((await accounts.verify('gina@example.org', 'carol password 2')).ok, true);
    const a = (await store.getAccount('gina@example.org'))!;
    assert.equal(await verifierMatches('SHA-256', a.scram!['SHA-256']!, 'carol password 2'), true);
    assert.equal(await verifierMatches('SHA-1', a.scram!['SHA-1']!, 'carol password 2'), true);
    assert.equal(a.epoch, 'e1', 'its sessions stay');
  });
});
