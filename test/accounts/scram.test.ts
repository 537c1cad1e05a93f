// SCRAM verifiers against the RFC test vectors: from the verifier alone, the
// server side of the RFCs' exchanges must come out (the client's proof checks,
// the server signature matches).
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { decoyVerifier, isUsableVerifier, makeVerifier, makeVerifiers, normalisePassword, strongestVerifier, verifierMatches } from '../../src/accounts/scram.js';
import type { ScramHash } from '../../src/accounts/scram.js';

const b64 = (s: string) => Buffer.from(s, 'base64');
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!));

/** The server's checks of RFC 5802 §3, with nothing but the stored verifier. */
function serverAccepts(hash: ScramHash, v: { storedKey: string; serverKey: string }, authMessage: string, proof: string, serverSignature: string): boolean {
  const algo = hash === 'SHA-1' ? 'sha1' : 'sha256';
  const clientSignature = createHmac(algo, b64(v.storedKey)).update(authMessage).digest();
  const clientKey = xor(b64(proof), clientSignature);
  const proofOk = createHash(algo).update(clientKey).digest().equals(b64(v.storedKey));
  return proofOk && createHmac(algo, b64(v.serverKey)).update(authMessage).digest().equals(b64(serverSignature));
}

describe('SCRAM verifiers (RFC 5802, RFC 7677)', () => {
  it('SCRAM-SHA-1: the verifier of "pencil" answers RFC 5802 section 5 exactly', async () => {
    const v = await makeVerifier('SHA-1', 'pencil', 4096, b64('QSXCR+Q6sek8bf92'));
    const nonce = 'fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j';
    const authMessage = `n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=${nonce},s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=${nonce}`;
    assert.equal(serverAccepts('SHA-1', v, authMessage, 'v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=', 'rmF9pqV8S7suAoZWja4dJRkFsKQ='), true);
    assert.equal(serverAccepts('SHA-1', await makeVerifier('SHA-1', 'pencil!', 4096, b64('QSXCR+Q6sek8bf92')), authMessage, 'v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=', 'rmF9pqV8S7suAoZWja4dJRkFsKQ='), false);
  });

  it('SCRAM-SHA-256: the verifier of "pencil" answers RFC 7677 section 3 exactly', async () => {
    const v = await makeVerifier('SHA-256', 'pencil', 4096, b64('W22ZaJ0SNY7soEsUEjb6gQ=='));
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    assert.equal(serverAccepts('SHA-256', v, authMessage, 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), true);
  });

  it('checks a password against a verifier, and nothing else matches', async () => {
    const all = await makeVerifiers('correct horse battery', { 'SHA-1': 4096, 'SHA-256': 4096 });
    for (const hash of ['SHA-1', 'SHA-256'] as const) {
      assert.equal(await verifierMatches(hash, all[hash]!, 'correct horse battery'), true);
      assert.equal(await verifierMatches(hash, all[hash]!, 'correct horse batterY'), false);
      assert.equal(await verifierMatches(hash, all[hash]!, ''), false);
    }
    assert.notEqual(all['SHA-1']!.salt, all['SHA-256']!.salt, 'each verifier has its own salt');
    assert.equal(strongestVerifier(all)?.hash, 'SHA-256');
    assert.equal(strongestVerifier({ 'SHA-1': all['SHA-1'] })?.hash, 'SHA-1');
    assert.equal(strongestVerifier({}), null);
  });

  it('normalises with SASLprep as Prosody does (non-ASCII space maps to a space), and refuses prohibited characters', async () => {
    assert.equal(normalisePassword('a\u00A0b'), 'a b');
    assert.equal(normalisePassword('I\u00ADX'), 'IX', 'soft hyphen is mapped to nothing');
    assert.equal(normalisePassword('bad\u0007'), null);
    const v = await makeVerifier('SHA-256', 'a b pass', 4096);
    assert.equal(await verifierMatches('SHA-256', v, 'a\u00A0b pass'), true);
  });

  it('refuses malformed or hostile records instead of computing with them', async () => {
    const good = await makeVerifier('SHA-1', 'pw pw pw pw', 4096);
    assert.equal(isUsableVerifier('SHA-1', good), true);
    assert.equal(isUsableVerifier('SHA-256', good), false, 'SHA-1 keys are not SHA-256 keys');
    assert.equal(isUsableVerifier('SHA-1', { ...good, iterations: 100 }), false);
    assert.equal(isUsableVerifier('SHA-1', { ...good, iterations: 50_000_000 }), false);
    assert.equal(isUsableVerifier('SHA-1', { ...good, salt: '' }), false);
    assert.equal(await verifierMatches('SHA-1', { ...good, iterations: 50_000_000 }, 'pw pw pw pw'), false);
  });

  it('gives an unknown account a decoy that is stable, per name and secret, and matches no password', async () => {
    const secret = Buffer.from('server secret 0123456789abcdef');
    const a = decoyVerifier(secret, 'ghost@example.org', 'SHA-256', 10000);
    assert.deepEqual(decoyVerifier(secret, 'ghost@example.org', 'SHA-256', 10000), a);
    assert.notEqual(decoyVerifier(secret, 'other@example.org', 'SHA-256', 10000).salt, a.salt);
    assert.notEqual(decoyVerifier(Buffer.from('another secret'), 'ghost@example.org', 'SHA-256', 10000).salt, a.salt);
    assert.equal(isUsableVerifier('SHA-256', a), true, 'it looks like a real record');
    const real = await makeVerifier('SHA-256', 'some password', 10000);
    assert.equal(b64(a.salt).length, b64(real.salt).length, 'the same salt length as our real verifiers');
    assert.match(b64(a.salt).toString('latin1'), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'shaped as a UUID, like Prosody\u2019s and ours');
    assert.match(b64(real.salt).toString('latin1'), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(await verifierMatches('SHA-256', a, 'ghost'), false);
  });
});
