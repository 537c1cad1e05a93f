import { jwtVerify, SignJWT } from 'jose';
import { BoundedMap } from '../../../util/bounded-map.js';
import { randomToken, safeEqual } from '../../../util/crypto.js';
import type { Client, ClientSource } from '../clients.js';
import { parseScope } from '../../scopes.js';
import { fromClaims, localizedOf, toClaims } from './claims.js';
import { invalidClientMetadata } from './errors.js';
import { clientSecretFor, perHostKey } from './keys.js';
import { GRANT_NAMES, type ClientMetadata } from './metadata.js';

export type RegistrationAlgorithm = 'HS256' | 'HS384' | 'HS512';

/** Keeps client_ids usable in URLs; the authorization endpoint refuses ids over 8192 characters. */
export const MAX_CLIENT_ID_LENGTH = 4096;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The RFC 7591 section 3.2.1 response body. */
export type RegistrationResponse = ClientMetadata & {
  client_id: string;
  client_id_issued_at: number;
  client_secret?: string;
  client_secret_expires_at: number;
};

/**
 * Stateless dynamic registration: the client_id is a JWT of the accepted
 * metadata signed with the per-host key, the secret an HMAC of the client_id.
 * Finding a client is verifying its id; nothing is stored.
 */
const VERIFIED_CLIENTS = 10_000;

export class DynamicClients implements ClientSource {
  private readonly key: Buffer;
  private readonly algorithm: RegistrationAlgorithm;
  private readonly ttl?: number;

  constructor(opts: { registrationKey: string; algorithm: RegistrationAlgorithm; issuer: string; ttl?: number }) {
    this.key = perHostKey(opts.registrationKey, opts.issuer);
    this.algorithm = opts.algorithm;
    this.ttl = opts.ttl;
  }

  /** Issues client credentials for metadata that validateClientMetadata accepted. */
  async register(meta: ClientMetadata, now = Math.floor(Date.now() / 1000)): Promise<RegistrationResponse> {
    const exp = this.ttl ? now + this.ttl : undefined;
    // The nonce makes two registrations of identical metadata two different clients.
    const jwt = new SignJWT({ ...toClaims(meta) }).setProtectedHeader({ alg: this.algorithm }).setIssuedAt(now).setJti(randomToken(12));
    if (exp !== undefined) jwt.setExpirationTime(exp);
    const clientId = await jwt.sign(this.key);
    if (clientId.length > MAX_CLIENT_ID_LENGTH) {
      throw invalidClientMetadata(`the metadata is too large to fit in a client_id (shorten redirect_uris, names or contacts)`);
    }
    return {
      client_id: clientId,
      client_id_issued_at: now,
      ...(meta.token_endpoint_auth_method === 'none' ? {} : { client_secret: this.secretFor(clientId) }),
      client_secret_expires_at: exp ?? 0,
      ...meta,
    };
  }

  /**
   * Clients whose id verified, by the exact id text: only a verified id gets
   * in, so a forged or re-encoded one always takes the full check; entries
   * leave at the id's own expiry.
   */
  private readonly verified = new BoundedMap<string, { client: Client; until: number }>(VERIFIED_CLIENTS);

  /** The client a client_id stands for, or null: bad signature, other algorithm, expired, or not a JWT at all. */
  async find(id: string): Promise<Client | null> {
    if (typeof id !== 'string' || id.length > MAX_CLIENT_ID_LENGTH) return null;
    const hit = this.verified.get(id);
    if (hit) {
      if (hit.until > Date.now()) return hit.client;
      this.verified.delete(id);
    }
    const found = await this.verify(id);
    if (!found) return null;
    this.verified.set(id, { client: found.client, until: found.exp !== undefined ? found.exp * 1000 : Number.POSITIVE_INFINITY });
    return found.client;
  }

  private async verify(id: string): Promise<{ client: Client; exp?: number } | null> {
    if (!JWT_SHAPE.test(id)) return null;
    let payload: Record<string, unknown>;
    try {
      // Pinned algorithm: `none`, and any HS variant other than the configured one, fail here.
      ({ payload } = await jwtVerify(id, this.key, { algorithms: [this.algorithm] }));
    } catch {
      return null;
    }
    if (this.ttl !== undefined && typeof payload.exp !== 'number') return null; // issued before a TTL was configured
    const meta = fromClaims(payload);
    if (!meta) return null;
    return { client: this.toClient(id, meta), exp: typeof payload.exp === 'number' ? payload.exp : undefined };
  }

  /** client_secret = HMAC-SHA256(per_host_key, client_id), hex. */
  secretFor(clientId: string): string {
    return clientSecretFor(this.key, clientId);
  }

  private toClient(id: string, meta: ClientMetadata): Client {
    const isPublic = meta.token_endpoint_auth_method === 'none';
    const localized = localizedOf(meta);
    // Client.grantTypes uses config's short names; the device URN is kept too, as the token endpoint accepts either.
    const grantTypes = meta.grant_types.flatMap((g) => (GRANT_NAMES[g] && GRANT_NAMES[g] !== g ? [GRANT_NAMES[g], g] : [g]));
    return {
      id,
      name: meta.client_name,
      ...(Object.keys(localized).length > 0 ? { localizedNames: localized } : {}),
      public: isPublic,
      authMethod: meta.token_endpoint_auth_method,
      redirectUris: meta.redirect_uris,
      grantTypes,
      responseTypes: meta.response_types,
      scope: parseScope(meta.scope),
      applicationType: meta.application_type,
      clientUri: meta.client_uri,
      logoUri: meta.logo_uri,
      tosUri: meta.tos_uri,
      policyUri: meta.policy_uri,
      ...(meta.software_id !== undefined ? { softwareId: meta.software_id } : {}),
      ...(meta.software_version !== undefined ? { softwareVersion: meta.software_version } : {}),
      dynamic: true,
      // The expected secret is derived once per verified client; every presented one is still compared.
      checkSecret: isPublic ? undefined : ((expected: string) => (secret: string) => safeEqual(secret, expected))(this.secretFor(id)),
    };
  }
}
