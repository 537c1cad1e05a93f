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

/** The protected header of a compact JWS, or null if it is not one. */
export function jwsHeader(token: string): JwsHeader | null {
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const header = parseJson(token.slice(0, dot));
  return header && typeof header.alg === 'string' ? (header as unknown as JwsHeader) : null;
}

/**
 * Checks the signature with a key of a known algorithm and returns the payload.
 * The algorithm comes from the key, never from the token (no alg confusion); a
 * `crit` header is refused because we understand no extensions (RFC 7515 4.1.11).
 */
export function verifyJws(token: string, alg: JwsAlg, key: KeyObject): { header: JwsHeader; payload: Record<string, unknown> } | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !SEGMENT.test(parts[2]!)) return null;
  const header = jwsHeader(token);
  if (!header || header.alg !== alg || header.crit !== undefined) return null;
  const payload = parseJson(parts[1]!);
  if (!payload) return null;
  const signature = Buffer.from(parts[2]!, 'base64url');
  try {
    const ok = verify(digestOf(alg), Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, signature);
    return ok ? { header, payload } : null;
  } catch {
    return null; // a signature of the wrong shape for the key
  }
}
