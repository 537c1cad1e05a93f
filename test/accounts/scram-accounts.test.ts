// Accounts keep SCRAM verifiers beside argon2id, and an imported account (SCRAM
// record only) signs in with its old password, which then fills in the rest.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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

  it('an account from before SCRAM gets its verifiers at the next password login', async () => {
    await store.createAccount({ jid: 'gina@example.org', passwordHash: (await store.getAccount('carol@example.org'))!.passwordHash, createdAt: Date.now(), epoch: 'e1' });
    assert.equal((await accounts.verify('gina@example.org', 'carol password 2')).ok, true);
    const a = (await store.getAccount('gina@example.org'))!;
    assert.equal(await verifierMatches('SHA-256', a.scram!['SHA-256']!, 'carol password 2'), true);
    assert.equal(await verifierMatches('SHA-1', a.scram!['SHA-1']!, 'carol password 2'), true);
    assert.equal(a.epoch, 'e1', 'its sessions stay');
  });
});
