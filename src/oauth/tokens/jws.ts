import { sign, verify, type KeyObject } from 'node:crypto';
import type { SigningKey } from '../../store/types.js';

/**
 * Compact JWS for the tokens we sign ourselves (access and ID tokens), on
 * node:crypto. jose 6 signs and verifies through WebCrypto, whose promise and
 * thread-pool hop cost ~100 µs per ES256 signature against ~30 µs here, on
 * the refresh and introspection hot paths. jose still does everything else
 * (key generation, JWK import/export, thumbprints, registration client ids),
 * and the tests check both directions against it.
 */
export type JwsAlg = SigningKey['alg'];

export interface JwsHeader {
  alg: string;
  kid?: string;
  typ?: string;
  crit?: unknown;
}

const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

// ES256 signatures travel as r||s (RFC 7518 3.4), not DER.
const digestOf = (alg: JwsAlg) => (alg === 'ES256' ? 'sha256' : null);

// ECDSA signatures are malleable: with (r, s) valid, so is (r, n − s). We sign
// only the low half (s ≤ n/2, as Bitcoin's BIP 62 and libsecp256k1 do), so
// each token we mint has one signature. High-s is still accepted when
// verifying: tokens signed before this rule were high-s half the time and must
// live out their TTL; a high-s twin gains nothing, as every cache is keyed by
// the claims' jti and revocation is by grant (issue 12 #9).
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_N = P256_N >> 1n;
// The same bound as 32 big-endian bytes: the common (low) case is one byte compare, no BigInt.
const P256_HALF_N_BYTES = Buffer.from(P256_HALF_N.toString(16).padStart(64, '0'), 'hex');

function lowS(signature: Buffer): Buffer {
  if (signature.length !== 64 || Buffer.compare(signature.subarray(32), P256_HALF_N_BYTES) <= 0) return signature;
  const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
  const flipped = Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex');
  return Buffer.concat([signature.subarray(0, 32), flipped]);
}

/** True when an ES256 signature's s is in the high half (the twin of a low-s one). */
export function isHighS(signature: Buffer): boolean {
  return signature.length === 64 && BigInt(`0x${signature.subarray(32).toString('hex')}`) > P256_HALF_N;
}

// The encoded header is the same for every token of one key and type: kept, not re-serialised per token.
const HEADERS_MAX = 64;
const encodedHeaders = new Map<string, string>();

function encodedHeader(alg: JwsAlg, header: Omit<JwsHeader, 'alg'>): string {
  const id = `${alg} ${JSON.stringify(header)}`;
  let text = encodedHeaders.get(id);
  if (text === undefined) {
    text = b64url(JSON.stringify({ alg, ...header }));
    if (encodedHeaders.size >= HEADERS_MAX) encodedHeaders.clear(); // a key rotation adds a kid now and then
    encodedHeaders.set(id, text);
  }
  return text;
}

export function signJws(alg: JwsAlg, header: Omit<JwsHeader, 'alg'>, payload: object, key: KeyObject): string {
  const input = `${encodedHeader(alg, header)}.${b64url(JSON.stringify(payload))}`;
  let signature: Buffer = sign(digestOf(alg), Buffer.from(input, 'latin1'), { key, dsaEncoding: 'ieee-p1363' });
  if (alg === 'ES256') signature = lowS(signature);
  return `${input}.${signature.toString('base64url')}`;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Base64url that decodes to bytes which encode back to the same text. Node's
 * decoder ignores the unused low bits of the last character, so "…A" and
 * "…B" can decode alike; such a twin of a token is refused outright, as no
 * encoder of ours or anyone's produces it.
 */
function canonical(segment: string): Buffer | null {
  if (!SEGMENT.test(segment)) return null;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : null;
}

function parseJson(segment: string): Record<string, unknown> | null {
  const bytes = canonical(segment);
  if (!bytes) return null;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A compact JWS split and parsed once; nothing in it is trusted yet. */
export interface DecodedJws {
  header: JwsHeader;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

export function decodeJws(token: string): DecodedJws | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const signature = canonical(parts[2]!);
  if (!signature) return null;
  const header = parseJson(parts[0]!);
  if (!header || typeof header.alg !== 'string') return null;
  const payload = parseJson(parts[1]!);
  if (!payload) return null;
  return {
    header: header as unknown as JwsHeader,
    payload,
    signingInput: `${parts[0]}.${parts[1]}`,
    signature,
  };
}

/**
 * Checks the signature with a key of a known algorithm. The algorithm comes
 * from the key, never from the token (no alg confusion); a `crit` header is
 * refused because we understand no extensions (RFC 7515 4.1.11).
 */
export function signatureValid(jws: DecodedJws, alg: JwsAlg, key: KeyObject): boolean {
  if (jws.header.alg !== alg || jws.header.crit !== undefined) return false;
  try {
    return verify(digestOf(alg), Buffer.from(jws.signingInput), { key, dsaEncoding: 'ieee-p1363' }, jws.signature);
  } catch {
    return false; // a signature of the wrong shape for the key
  }
}

/** decodeJws + signatureValid, for a caller that already knows the key. */
export function verifyJws(token: string, alg: JwsAlg, key: KeyObject): DecodedJws | null {
  const jws = decodeJws(token);
  return jws && signatureValid(jws, alg, key) ? jws : null;
}
