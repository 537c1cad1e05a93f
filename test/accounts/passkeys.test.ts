// Issue 26 #1: the passkey domain's own rules, on the memory store (the
// WebAuthn ceremonies themselves run in real Chromium: test/browser/passkeys.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PasskeyError, Passkeys, hasPasskeys, passkeyName } from '../../src/accounts/passkeys/passkeys.js';
import { relyingPartyFor } from '../../src/accounts/passkeys/relying-party.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/store/memory.js';

const RP = { id: 'localhost', origin: 'http://localhost:8080', name: 'Example Chat' };
const answer = (id: string) => ({ id, rawId: id, type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' }, clientExtensionResults: {} });

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PasskeyError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('issue 26: passkey domain rules', () => {
  it('issue 26: the relying party is the issuer\'s host and origin; an IP-address issuer has none', () => {
    assert.deepEqual(relyingPartyFor('https://chat.example.org/auth', 'Chat'), { id: 'chat.example.org', origin: 'https://chat.example.org', name: 'Chat' });
    assert.equal(relyingPartyFor('http://localhost:8080', 'Chat')?.origin, 'http://localhost:8080');
    for (const ip of ['http://127.0.0.1:8080', 'https://192.0.2.1', 'http://[::1]:8080', 'not a url']) assert.equal(relyingPartyFor(ip, 'Chat'), null, ip);
  });

  it('issue 26: a name is trimmed, bounded and free of control characters', () => {
    assert.equal(passkeyName('  Work\u0000 laptop\n '), 'Work laptop');
    assert.equal(passkeyName('x'.repeat(100)).length, 64);
    assert.equal(passkeyName(42), '');
  });

  it('issue 26: a passkey left by a removed account neither lists nor signs in for a new account of the same address', async () => {
    const store = new MemoryStore();
    const passkeys = new Passkeys(store.passkeys, store, RP, silentLogger);
    await store.createAccount({ jid: 'alice@localhost', passwordHash: '', createdAt: 1000, epoch: 'e1' });
    await store.passkeys.add({ id: 'old-key', jid: 'alice@localhost', publicKey: 'AA', counter: 0, name: 'Old', createdAt: 1000, accountCreatedAt: 1000 }, 20);
    assert.equal((await passkeys.list('alice@localhost')).length, 1);
    assert.equal(await hasPasskeys(store, 'alice@localhost'), true);

    await store.removeAccount('alice@localhost');
    await store.createAccount({ jid: 'alice@localhost', passwordHash: '', createdAt: 2000, epoch: 'e2' });
    assert.equal(await hasPasskeys(store, 'alice@localhost'), false, 'the new account has no second factor from the old one');
    const { ceremony } = await passkeys.startSignIn('');
    assert.equal(await refusal(passkeys.finishSignIn(ceremony, '', answer('old-key'))), 'unknown');
    assert.deepEqual(await passkeys.list('alice@localhost'), []);
    assert.equal(await store.passkeys.find('old-key'), null, 'and it is gone from the store');
    await store.close();
  });

  it('issue 26: a ceremony answered with another binding (browser or pending sign-in) is refused, and used up', async () => {
    const store = new MemoryStore();
    const passkeys = new Passkeys(store.passkeys, store, RP, silentLogger);
    await store.createAccount({ jid: 'bob@localhost', passwordHash: '', createdAt: 1000, epoch: 'e1' });
    await store.passkeys.add({ id: 'bob-key', jid: 'bob@localhost', publicKey: 'AA', counter: 0, name: 'Key', createdAt: 1000, accountCreatedAt: 1000 }, 20);
    const { ceremony, options } = await passkeys.startSignIn('browser-a', 'bob@localhost');
    assert.deepEqual(options.allowCredentials?.map((c) => c.id), ['bob-key'], 'the second step offers the account\'s own passkeys');
    assert.equal(await refusal(passkeys.finishSignIn(ceremony, 'browser-b', answer('bob-key'), 'bob@localhost')), 'expired');
    assert.equal(await refusal(passkeys.finishSignIn(ceremony, 'browser-a', answer('bob-key'), 'bob@localhost')), 'expired', 'taken by the first try');
    // Another account's passkey is no second factor for bob.
    await store.createAccount({ jid: 'eve@localhost', passwordHash: '', createdAt: 1000, epoch: 'e1' });
    await store.passkeys.add({ id: 'eve-key', jid: 'eve@localhost', publicKey: 'AA', counter: 0, name: 'Key', createdAt: 1000, accountCreatedAt: 1000 }, 20);
    const second = await passkeys.startSignIn('browser-a', 'bob@localhost');
    assert.equal(await refusal(passkeys.finishSignIn(second.ceremony, 'browser-a', answer('eve-key'), 'bob@localhost')), 'unknown');
    assert.equal(await refusal(passkeys.startSignIn('x', 'carol@localhost')), 'unknown', 'no passkey, no second-factor ceremony');
    await store.close();
  });
});
