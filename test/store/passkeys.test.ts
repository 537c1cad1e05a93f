// The passkey store domain (issue 26 #1), the same checks on the memory
// store and a real redis-server: the add bound, one owner per credential id,
// the counter compare-and-set, single-use challenges.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryPasskeyStore } from '../../src/store/passkeys/memory.js';
import { RedisPasskeyStore } from '../../src/store/passkeys/redis.js';
import type { PasskeyRecord, PasskeyStore } from '../../src/store/passkeys/types.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';

const record = (jid: string, id = randomBytes(16).toString('base64url')): PasskeyRecord => ({
  id,
  jid,
  publicKey: randomBytes(77).toString('base64url'),
  counter: 3,
  name: 'Laptop',
  transports: ['internal'],
  createdAt: Date.now(),
  accountCreatedAt: 1700000000000,
});

function contract(name: string, make: () => PasskeyStore) {
  describe(`issue 26: passkey store (${name})`, () => {
    it('issue 26: adds under a bound, refuses a credential id another account holds, lists, finds, renames, removes', async () => {
      const s = make();
      const a = record('alice@example.org');
      assert.equal(await s.add(a, 2), 'added');
      assert.equal(await s.add(a, 2), 'exists');
      assert.equal(await s.add({ ...a, jid: 'mallory@example.org' }, 2), 'exists', 'one credential id, one owner');
      assert.equal(await s.find(a.id).then((r) => r?.jid), 'alice@example.org');
      assert.equal(await s.add(record('alice@example.org'), 2), 'added');
      assert.equal(await s.add(record('alice@example.org'), 2), 'limit');
      assert.deepEqual((await s.list('alice@example.org')).map((r) => r.counter), [3, 3]);
      assert.equal(await s.rename('alice@example.org', a.id, 'Phone'), true);
      assert.equal(await s.rename('mallory@example.org', a.id, 'Mine'), false, 'only the owner renames');
      assert.deepEqual(await s.find(a.id), { ...a, name: 'Phone' });
      assert.equal(await s.remove('mallory@example.org', a.id), false, 'only the owner removes');
      assert.equal(await s.remove('alice@example.org', a.id), true);
      assert.equal(await s.find(a.id), null);
      assert.equal((await s.list('alice@example.org')).length, 1);
      await s.removeAll('alice@example.org');
      assert.deepEqual(await s.list('alice@example.org'), []);
    });

    it('issue 26: the counter moves only from the value it was read at (a replay racing a use loses)', async () => {
      const s = make();
      const a = record('bob@example.org');
      await s.add(a, 5);
      const [first, second] = await Promise.all([s.recordUse(a.jid, a.id, 3, 4, 1, true), s.recordUse(a.jid, a.id, 3, 4, 2, true)]);
      assert.deepEqual([first, second].sort(), [false, true]);
      const after = await s.find(a.id);
      assert.equal(after?.counter, 4);
      assert.equal(after?.backedUp, true);
      assert.equal(await s.recordUse(a.jid, a.id, 3, 5, 3), false, 'a stale read is refused');
    });

    it('issue 26: a challenge is taken once, and not after its time', async () => {
      const s = make();
      await s.saveChallenge('c1', { challenge: 'abc', purpose: 'sign-in', binding: '', createdAt: 1 }, 60_000);
      assert.equal((await s.takeChallenge('c1'))?.challenge, 'abc');
      assert.equal(await s.takeChallenge('c1'), null);
      await s.saveChallenge('c2', { challenge: 'abc', purpose: 'sign-in', createdAt: 1 }, 30);
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(await s.takeChallenge('c2'), null);
      assert.equal(await s.userHandle('carol@example.org', 'h1'), 'h1');
      assert.equal(await s.userHandle('carol@example.org', 'h2'), 'h1', 'the first handle stays');
    });
  });
}

contract('memory', () => new MemoryPasskeyStore());

let server: RedisInstance;
const clients: Redis[] = [];
before(async () => {
  server = await startRedis();
});
after(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});
contract('redis', () => {
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  clients.push(client);
  return new RedisPasskeyStore(client, new RedisKeys(`t${randomBytes(4).toString('hex')}:`));
});
