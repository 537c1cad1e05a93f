// A SCRAM-SHA-1 / SCRAM-SHA-256 client (RFC 5802, RFC 7677) over a raw c2s
// stream, for the bench: what a real client does at login. SaltedPassword (the
// PBKDF2) is computed once per password, salt, iteration count and hash and
// cached, as real clients cache it (Conversations, Monal); each login then
// costs the client a few HMACs. The server's signature is checked, as a client
// must, so a login counts only if both sides proved themselves. Passwords are
// taken as given (no SASLprep): the bench's is ASCII.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { rawSasl, type LoginTarget } from '../test/helpers/xmpp-client.js';

export type ScramMechanism = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

const HASH = { 'SCRAM-SHA-1': { name: 'sha1', bytes: 20 }, 'SCRAM-SHA-256': { name: 'sha256', bytes: 32 } } as const;

interface Keys {
  clientKey: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const cache = new Map<string, Keys>();

function keys(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Keys {
  const id = `${mechanism}\0${iterations}\0${salt.toString('base64')}\0${password}`;
  let k = cache.get(id);
  if (!k) {
    const { name, bytes } = HASH[mechanism];
    const salted = pbkdf2Sync(password, salt, iterations, bytes, name);
    const clientKey = createHmac(name, salted).update('Client Key').digest();
    k = { clientKey, storedKey: createHash(name).update(clientKey).digest(), serverKey: createHmac(name, salted).update('Server Key').digest() };
    cache.set(id, k);
  }
  return k;
}

/** `a=b,c=d` → Map; values may contain `=`. */
function attrs(message: string): Map<string, string> {
  return new Map(message.split(',').map((p) => [p.slice(0, 1), p.slice(2)] as [string, string]));
}

/** One login on a fresh c2s stream: true only on `<success/>` with the right server signature. */
export async function scramLogin(target: LoginTarget, mechanism: ScramMechanism, username: string, password: string): Promise<boolean> {
  const { name } = HASH[mechanism];
  const s = await rawSasl(target);
  try {
    const clientNonce = randomBytes(18).toString('base64');
    const clientFirstBare = `n=${username.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${clientNonce}`;
    const first = await s.auth(mechanism, `n,,${clientFirstBare}`);
    if (first.name !== 'challenge') return false;
    const serverFirst = first.data;
    const a = attrs(serverFirst);
    const nonce = a.get('r');
    const salt = Buffer.from(a.get('s') ?? '', 'base64');
    const iterations = Number(a.get('i'));
    if (!nonce?.startsWith(clientNonce) || salt.length === 0 || !Number.isInteger(iterations) || iterations < 1) return false;
    const k = keys(mechanism, password, salt, iterations);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac(name, k.storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(signature.length);
    for (let i = 0; i < proof.length; i++) proof[i] = k.clientKey[i]! ^ signature[i]!;
    const final = await s.respond(`${withoutProof},p=${proof.toString('base64')}`);
    if (final.name !== 'success') return false;
    const v = Buffer.from(attrs(final.data).get('v') ?? '', 'base64');
    const expected = createHmac(name, k.serverKey).update(authMessage).digest();
    return v.length === expected.length && timingSafeEqual(v, expected);
  } finally {
    s.close();
  }
}
