import { sign, verify, type KeyObject } from 'node:crypto';
import type { SigningKey } from '../store/types.js';

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

export function signJws(alg: JwsAlg, header: Omit<JwsHeader, 'alg'>, payload: object, key: KeyObject): string {
  const input = `${b64url(JSON.stringify({ alg, ...header }))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign(digestOf(alg), Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function parseJson(segment: string): Record<string, unknown> | null {
  if (!SEGMENT.test(segment)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
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
  if (parts.length !== 3 || !SEGMENT.test(parts[2]!)) return null;
  const header = parseJson(parts[0]!);
  if (!header || typeof header.alg !== 'string') return null;
  const payload = parseJson(parts[1]!);
  if (!payload) return null;
  return {
    header: header as unknown as JwsHeader,
    payload,
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2]!, 'base64url'),
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
