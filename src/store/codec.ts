// Defensive decoding of stored records. A corrupt or foreign value reads as
// absent (null) instead of surfacing later as a TypeError deep in a caller.
import type { Account, AuthorizationCode, ScramRecords, DeviceGrant, Grant, LoginSession, RefreshToken, ServerInfo, SigningKey, UpstreamOrigin, UpstreamState } from './types.js';

type Obj = Record<string, unknown>;

export function parseJson(text: string | null | undefined): Obj | null {
  if (typeof text !== 'string') return null;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null;
  } catch {
    return null;
  }
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isStrArr = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);
const optional = (v: unknown, check: (x: unknown) => boolean) => v === undefined || check(v);

/** Numeric hash fields come back as strings; anything else is corrupt. */
export function toNum(v: unknown): number | undefined {
  if (isNum(v)) return v;
  if (!isStr(v) || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function decodeAccount(o: Obj | null): Account | null {
  if (!o) return null;
  const createdAt = toNum(o.createdAt);
  if (!isStr(o.jid) || !isStr(o.passwordHash) || createdAt === undefined || !optional(o.epoch, isStr)) return null;
  const account: Account = { jid: o.jid, passwordHash: o.passwordHash, createdAt };
  if (isStr(o.epoch)) account.epoch = o.epoch;
  // Redis keeps these as hash fields: the origin as JSON, the flag as '1'.
  const upstream = decodeUpstreamOrigin(typeof o.upstream === 'string' ? parseJson(o.upstream) : (o.upstream as Obj | undefined) ?? null);
  if (upstream) account.upstream = upstream;
  if (o.disabled === true || o.disabled === '1') account.disabled = true;
  const scram = decodeScram(typeof o.scram === 'string' ? parseJson(o.scram) : (o.scram as Obj | undefined) ?? null);
  if (scram) account.scram = scram;
  return account;
}

/**
 * One canonical text for a record (fixed key order), so that a compare-and-set
 * can test "still the credentials that were checked" by string equality. '' for none.
 */
export function encodeScram(records: ScramRecords | undefined): string {
  const out: Record<string, unknown> = {};
  for (const hash of ['SHA-1', 'SHA-256'] as const) {
    const v = records?.[hash];
    if (v) out[hash] = { salt: v.salt, iterations: v.iterations, storedKey: v.storedKey, serverKey: v.serverKey };
  }
  return Object.keys(out).length ? JSON.stringify(out) : '';
}

/** Only well-typed verifiers survive; a record with none reads as absent. */
export function decodeScram(o: Obj | null): ScramRecords | null {
  if (!o) return null;
  const out: ScramRecords = {};
  for (const hash of ['SHA-1', 'SHA-256'] as const) {
    const v = o[hash] as Obj | undefined;
    if (v && isStr(v.salt) && isNum(v.iterations) && isStr(v.storedKey) && isStr(v.serverKey)) {
      out[hash] = { salt: v.salt, iterations: v.iterations, storedKey: v.storedKey, serverKey: v.serverKey };
    }
  }
  return Object.keys(out).length ? out : null;
}

export function decodeServerInfo(o: Obj | null): ServerInfo | null {
  if (!o) return null;
  const keys = o.verificationKeys;
  const keysOk = keys === undefined || (Array.isArray(keys) && keys.every((k) => k !== null && typeof k === 'object' && !Array.isArray(k)));
  if (!(isStr(o.issuer) && isStrArr(o.hosts) && isNum(o.publishedAt) && keysOk)) return null;
  return { issuer: o.issuer, hosts: o.hosts, publishedAt: o.publishedAt, ...(keys ? { verificationKeys: keys as Record<string, unknown>[] } : {}) };
}

export function decodeUpstreamOrigin(o: Obj | null): UpstreamOrigin | null {
  if (!o) return null;
  const ok = isStr(o.provider) && isStr(o.iss) && isStr(o.sub) && isNum(o.lastLoginAt);
  return ok ? { provider: o.provider as string, iss: o.iss as string, sub: o.sub as string, lastLoginAt: o.lastLoginAt as number } : null;
}

export function decodeUpstreamState(o: Obj | null): UpstreamState | null {
  if (!o) return null;
  const ok = isStr(o.provider) && isStr(o.nonce) && isStr(o.codeVerifier) && isStr(o.returnTo) && isStr(o.browser) && isNum(o.createdAt);
  return ok ? (o as unknown as UpstreamState) : null;
}

export function decodeSigningKey(o: Obj | null): SigningKey | null {
  if (!o) return null;
  const ok =
    isStr(o.kid) &&
    (o.alg === 'ES256' || o.alg === 'EdDSA') &&
    o.privateJwk !== null && typeof o.privateJwk === 'object' &&
    o.publicJwk !== null && typeof o.publicJwk === 'object' &&
    isNum(o.createdAt) &&
    isNum(o.activatesAt) &&
    optional(o.retiredAt, isNum) &&
    optional(o.expiresAt, isNum);
  return ok ? (o as unknown as SigningKey) : null;
}

/** A stored SASL2 user agent: an object of optional strings. */
export function isUserAgent(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Obj;
  return optional(o.id, isStr) && optional(o.software, isStr) && optional(o.device, isStr);
}

export function decodeGrant(o: Obj | null): Grant | null {
  if (!o) return null;
  const ok =
    isStr(o.id) && isStr(o.jid) && isStr(o.clientId) && isStrArr(o.scope) &&
    isNum(o.createdAt) && isNum(o.lastUsedAt) &&
    optional(o.clientName, isStr) && optional(o.clientUri, isStr) && optional(o.logoUri, isStr) &&
    optional(o.kind, (k) => k === 'app_password') && optional(o.label, isStr) && optional(o.secretDigest, isStr) &&
    optional(o.userAgent, isUserAgent);
  return ok ? (o as unknown as Grant) : null;
}

export function decodeCode(o: Obj | null): AuthorizationCode | null {
  if (!o) return null;
  const ok =
    isStr(o.grantId) && isStr(o.clientId) && isStr(o.jid) && isStr(o.redirectUri) && isStrArr(o.scope) &&
    isNum(o.authTime) &&
    optional(o.codeChallenge, isStr) && optional(o.codeChallengeMethod, isStr) && optional(o.nonce, isStr) &&
    optional(o.amr, isStrArr) && optional(o.expiresAt, isNum) && optional(o.redirectUriSent, isBool);
  return ok ? (o as unknown as AuthorizationCode) : null;
}

export function decodeRefresh(o: Obj | null): RefreshToken | null {
  if (!o) return null;
  const ok =
    isStr(o.grantId) && isStr(o.clientId) && isStr(o.jid) && isStrArr(o.scope) &&
    isNum(o.issuedAt) && isNum(o.expiresAt) && optional(o.rotatedAt, isNum);
  return ok ? (o as unknown as RefreshToken) : null;
}

export function decodeDevice(o: Obj | null): DeviceGrant | null {
  if (!o) return null;
  const ok =
    isStr(o.id) && isStr(o.userCode) && isStr(o.clientId) && isStrArr(o.scope) &&
    (o.status === 'pending' || o.status === 'approved' || o.status === 'denied') &&
    isNum(o.interval) && isNum(o.lastPollAt) && isNum(o.createdAt) && isNum(o.expiresAt) &&
    optional(o.jid, isStr) && optional(o.grantId, isStr) && optional(o.authTime, isNum) && optional(o.amr, isStrArr);
  return ok ? (o as unknown as DeviceGrant) : null;
}

export function decodeSession(o: Obj | null): LoginSession | null {
  if (!o) return null;
  const ok =
    isStr(o.id) && isStr(o.jid) && isNum(o.authTime) && isStrArr(o.amr) && isNum(o.createdAt) && isNum(o.expiresAt) &&
    optional(o.epoch, isStr);
  return ok ? (o as unknown as LoginSession) : null;
}
