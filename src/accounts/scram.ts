// SCRAM verifiers (RFC 5802, RFC 7677) kept beside the argon2id hash, so that the
// XMPP server can run SCRAM-SHA-1 / SCRAM-SHA-256 itself with what we hand it:
// the password never travels. Also checks a password against a verifier, which is
// how an imported account (SCRAM record only) signs in the first time.
import { createHmac, createHash, pbkdf2, randomUUID, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { saslprep } from '@mongodb-js/saslprep';
import type { ScramHash, ScramRecords, ScramVerifier } from '../store/types.js';

export type { ScramHash, ScramRecords, ScramVerifier };

export const SCRAM_HASHES: readonly ScramHash[] = ['SHA-1', 'SHA-256'];

const pbkdf2Async = promisify(pbkdf2);
const NODE_NAME: Record<ScramHash, 'sha1' | 'sha256'> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };
const KEY_BYTES: Record<ScramHash, number> = { 'SHA-1': 20, 'SHA-256': 32 };

/** The fewest iterations we accept, in a record of our own or an imported one (RFC 7677 says 4096). */
export const MIN_ITERATIONS = 4096;
/** The most we accept from an import: a hostile file must not make every login cost seconds. */
export const MAX_ITERATIONS = 1_000_000;

/** RFC 5802's Normalize(): SASLprep, as Prosody applies it; null for a password SASLprep refuses. */
export function normalisePassword(password: string): string | null {
  try {
    return saslprep(password);
  } catch {
    return null;
  }
}

/** StoredKey and ServerKey for a password (PBKDF2 on libuv's pool: the event loop stays free). */
async function keys(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<{ storedKey: Buffer; serverKey: Buffer }> {
  const algo = NODE_NAME[hash];
  const salted = await pbkdf2Async(password, salt, iterations, KEY_BYTES[hash], algo);
  const clientKey = createHmac(algo, salted).update('Client Key').digest();
  return {
    storedKey: createHash(algo).update(clientKey).digest(),
    serverKey: createHmac(algo, salted).update('Server Key').digest(),
  };
}

/**
 * Salts are shaped as Prosody's internal_hashed makes them (a random UUID, its 36
 * characters used as bytes), so that our verifiers, the ones imported from
 * Prosody and the decoys all look alike on the wire.
 */
const newSalt = () => Buffer.from(randomUUID(), 'latin1');

/** A fresh verifier for `password` (a fresh salt unless given). Throws on a password SASLprep refuses. */
export async function makeVerifier(hash: ScramHash, password: string, iterations: number, salt = newSalt()): Promise<ScramVerifier> {
  const normalised = normalisePassword(password);
  if (normalised === null) throw new Error('the password has characters SASLprep prohibits');
  const { storedKey, serverKey } = await keys(hash, normalised, salt, iterations);
  return { salt: salt.toString('base64'), iterations, storedKey: storedKey.toString('base64'), serverKey: serverKey.toString('base64') };
}

/** Verifiers of every hash we offer, each with its own salt. */
export async function makeVerifiers(password: string, iterations: Record<ScramHash, number>): Promise<ScramRecords> {
  const [sha1, sha256] = await Promise.all(SCRAM_HASHES.map((h) => makeVerifier(h, password, iterations[h])));
  return { 'SHA-1': sha1!, 'SHA-256': sha256! };
}

/** Whether a verifier is well formed (salt present, keys of the hash's length, iterations in range). */
export function isUsableVerifier(hash: ScramHash, v: ScramVerifier | undefined): v is ScramVerifier {
  if (!v || !Number.isInteger(v.iterations) || v.iterations < MIN_ITERATIONS || v.iterations > MAX_ITERATIONS) return false;
  const len = (b64: string) => Buffer.from(b64, 'base64').length;
  return len(v.salt) > 0 && len(v.storedKey) === KEY_BYTES[hash] && len(v.serverKey) === KEY_BYTES[hash];
}

/**
 * Checks `password` against one verifier, as Prosody's internal_hashed does:
 * recompute both keys and compare them in constant time.
 */
export async function verifierMatches(hash: ScramHash, v: ScramVerifier, password: string): Promise<boolean> {
  const normalised = normalisePassword(password);
  if (normalised === null || !isUsableVerifier(hash, v)) return false;
  const { storedKey, serverKey } = await keys(hash, normalised, Buffer.from(v.salt, 'base64'), v.iterations);
  const same = timingSafeEqual(storedKey, Buffer.from(v.storedKey, 'base64'));
  return timingSafeEqual(serverKey, Buffer.from(v.serverKey, 'base64')) && same;
}

/** The strongest usable verifier of a record (SHA-256 before SHA-1), or null. */
export function strongestVerifier(records: ScramRecords | undefined): { hash: ScramHash; verifier: ScramVerifier } | null {
  for (const hash of ['SHA-256', 'SHA-1'] as const) {
    const verifier = records?.[hash];
    if (isUsableVerifier(hash, verifier)) return { hash, verifier };
  }
  return null;
}

/**
 * What SCRAM hands out for an account that does not exist (or may not log in):
 * derived from a server secret and the name, so it is the same at every attempt
 * and on every instance, and the exchange up to the failed proof looks like a
 * real account's. No password matches it.
 */
export function decoyVerifier(secret: Buffer, jid: string, hash: ScramHash, iterations: number): ScramVerifier {
  const derive = (label: string, bytes: number) => createHmac('sha256', secret).update(`scram-decoy\n${label}\n${hash}\n${jid}`).digest().subarray(0, bytes);
  // A version-4 UUID made of derived bytes, as newSalt() makes them of random ones.
  const u = Buffer.from(derive('salt', 16));
  u[6] = (u[6]! & 0x0f) | 0x40;
  u[8] = (u[8]! & 0x3f) | 0x80;
  const h = u.toString('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  const b64 = (b: Buffer) => b.toString('base64');
  return { salt: b64(Buffer.from(uuid, 'latin1')), iterations, storedKey: b64(derive('stored', KEY_BYTES[hash])), serverKey: b64(derive('server', KEY_BYTES[hash])) };
}
