import { createHash } from 'node:crypto';
import { BoundedMap } from '../../util/bounded-map.js';
import { randomToken, sha256Hex } from '../../util/crypto.js';
import { decodeJws, signJws, signatureValid } from './jws.js';
import type { KeyManager } from './keys.js';
import { formatScope } from '../scopes.js';
import { acrFor } from '../../accounts/second-factor/assurance.js';

export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  jid: string;
  aud: string;
  client_id: string;
  scope: string;
  jti: string;
  gid: string;
  iat: number;
  exp: number;
}

export interface TokenSettings {
  issuer: string;
  accessTokenTtl: number;
  refreshTokenTtl: number;
}

export interface AccessTokenInput {
  jid: string;
  clientId: string;
  scope: string[];
  grantId: string;
}

/**
 * Client ids from stateless registration are long JWTs; an access token has to
 * stay under 900 bytes to serve as an XMPP PLAIN password, so it carries a
 * digest of such an id instead. Introspection returns the full id from the grant.
 */
export const TOKEN_CLIENT_ID_MAX = 32;
export function tokenClientId(clientId: string): string {
  return clientId.length <= TOKEN_CLIENT_ID_MAX ? clientId : `h:${createHash('sha256').update(clientId).digest('base64url').slice(0, 27)}`;
}

export const subjectOf = (jid: string) => `xmpp:${jid}`;

/**
 * Resource servers introspect, and XMPP clients log in with, the same token
 * again and again; its signature never changes its verdict, so verified
 * claims are kept (expiry and the signing key's presence are still checked on
 * every use, the grant by the caller). Bounded: the oldest entry goes first.
 * Keyed by the claims' `jti`, never the token text: a re-encoded twin of a
 * token (another signature of the same claims) must neither fill the cache
 * nor be taken for the token; a hit needs the very text that was verified.
 */
const VERIFIED_CACHE_MAX = 4096;

/** Mints and checks the JWTs this server signs. Knows nothing of storage. */
export class TokenSigner {
  private readonly verified = new BoundedMap<string, { token: string; kid: string; claims: AccessTokenClaims }>(VERIFIED_CACHE_MAX);
  /**
   * The same entries by their exact text, so a token seen again is not even
   * decoded. Only the text `verified` holds for its jti gets in: a twin never.
   */
  private readonly byText = new BoundedMap<string, { token: string; kid: string; claims: AccessTokenClaims }>(VERIFIED_CACHE_MAX);

  constructor(
    private readonly keys: KeyManager,
    readonly settings: TokenSettings,
  ) {}

  async accessToken(input: AccessTokenInput, now = nowSeconds()): Promise<{ token: string; claims: AccessTokenClaims }> {
    const { kid, alg, key } = this.keys.current();
    const claims: AccessTokenClaims = {
      iss: this.settings.issuer,
      sub: subjectOf(input.jid),
      jid: input.jid,
      aud: this.settings.issuer,
      client_id: tokenClientId(input.clientId),
      scope: formatScope(input.scope),
      jti: randomToken(12),
      gid: input.grantId,
      iat: now,
      exp: now + this.settings.accessTokenTtl,
    };
    const token = signJws(alg, { kid, typ: ACCESS_TOKEN_TYPE }, claims, key);
    return { token, claims };
  }

  async idToken(input: {
    jid: string;
    clientId: string;
    nonce?: string;
    authTime?: number;
    amr?: string[];
    accessToken?: string;
    claims?: Record<string, unknown>;
  }): Promise<string> {
    const { kid, alg, key } = this.keys.current();
    const now = nowSeconds();
    const payload: Record<string, unknown> = {
      ...input.claims,
      iss: this.settings.issuer,
      sub: subjectOf(input.jid),
      aud: input.clientId,
      azp: input.clientId,
      iat: now,
      exp: now + this.settings.accessTokenTtl,
    };
    if (input.authTime !== undefined) payload.auth_time = input.authTime;
    if (input.nonce !== undefined) payload.nonce = input.nonce;
    if (input.amr?.length) {
      payload.amr = input.amr;
      // Issue 26: the assurance those methods give, in the values discovery lists.
      payload.acr = acrFor(input.amr);
    }
    if (input.accessToken) payload.at_hash = halfHash(input.accessToken, alg);
    return signJws(alg, { kid, typ: 'JWT' }, payload, key);
  }

  /** Signature, issuer, type and expiry; null for anything that is not a live token of ours. */
  async verifyAccessToken(token: string, { ignoreExpiry = false } = {}): Promise<AccessTokenClaims | null> {
    if (typeof token !== 'string' || token.length > 4096) return null;
    const now = nowSeconds();
    const seen = this.byText.get(token);
    if (seen && (ignoreExpiry || seen.claims.exp > now) && this.keys.publicKey(seen.kid)) return seen.claims;
    if (seen) this.byText.delete(token);
    const jws = decodeJws(token);
    const jti = jws?.payload.jti;
    if (!jws || typeof jti !== 'string') return null;
    const cached = this.verified.get(jti);
    if (cached && cached.token === token && this.keys.publicKey(cached.kid)) {
      if (ignoreExpiry || cached.claims.exp > now) {
        this.byText.set(token, cached);
        return cached.claims;
      }
      this.verified.delete(jti);
      return null;
    }
    const kid = jws.header.kid;
    const key = typeof kid === 'string' ? await this.keys.verificationKey(kid) : undefined;
    if (!kid || !key || !signatureValid(jws, key.alg, key.key) || jws.header.typ !== ACCESS_TOKEN_TYPE) return null;
    const claims = jws.payload;
    if (
      claims.iss !== this.settings.issuer ||
      typeof claims.gid !== 'string' ||
      typeof claims.jid !== 'string' ||
      typeof claims.client_id !== 'string' ||
      typeof claims.scope !== 'string' ||
      typeof claims.exp !== 'number' ||
      typeof claims.iat !== 'number'
    ) {
      return null;
    }
    // Frozen: the same object is handed to every later caller of this token.
    const valid = Object.freeze(claims) as unknown as AccessTokenClaims;
    // A twin of a cached token verifies but does not displace the original.
    if (!cached || cached.token === token) {
      const entry = { token, kid, claims: valid };
      this.verified.set(jti, entry);
      this.byText.set(token, entry);
    }
    return ignoreExpiry || valid.exp > now ? valid : null;
  }
}

/** at_hash / c_hash: left half of the hash matching the signing algorithm (OIDC Core 3.1.3.6). */
function halfHash(value: string, alg: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(value).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Opaque secrets bound to a grant, `<grantId>.<secret>`: refresh tokens and
 * authorization codes. The grant id lets the store find the grant's slot (and
 * check the grant in the same atomic step); only the digest is stored.
 */
function newGrantBound(grantId: string): { token: string; digest: string } {
  const token = `${grantId}.${randomToken(32)}`;
  return { token, digest: sha256Hex(token) };
}

function parseGrantBound(token: string): { grantId: string; digest: string } | null {
  if (typeof token !== 'string' || token.length > 200) return null;
  const m = /^([A-Za-z0-9_-]{10,64})\.[A-Za-z0-9_-]{43}$/.exec(token);
  return m ? { grantId: m[1]!, digest: sha256Hex(token) } : null;
}

export const newRefreshToken = newGrantBound;
export const parseRefreshToken = parseGrantBound;
export const newAuthorizationCode = newGrantBound;
export const parseAuthorizationCode = parseGrantBound;

export function newGrantId(): string {
  return randomToken(16);
}
