import type { ClientConfig } from '../../config/schema.js';
import { sha256Matcher } from '../../util/crypto.js';
import { invalidClient } from '../errors.js';

/** The refusal for a client id no source knows (the client gate counts those apart). */
export const UNKNOWN_CLIENT = 'unknown client';

export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface Client {
  id: string;
  name: string;
  /** Localised names from registration (`client_name#fr`). */
  localizedNames?: Record<string, string>;
  public: boolean;
  authMethod: AuthMethod;
  redirectUris: string[];
  grantTypes: string[];
  responseTypes: string[];
  scope: string[];
  applicationType: 'web' | 'native';
  clientUri?: string;
  logoUri?: string;
  tosUri?: string;
  policyUri?: string;
  /** RFC 7591 software_id / software_version, shown in XEP-0494 listings. */
  softwareId?: string;
  softwareVersion?: string;
  /**
   * A static client without `token_endpoint_auth_method` in the config: it may
   * present its secret either way (what configs before the key relied on).
   */
  anySecretMethod?: boolean;
  /**
   * A static confidential client the operator marked `login_proxy`: it relays
   * many users' password grants from one address, so those are throttled per
   * account only, never as one address.
   */
  loginProxy?: boolean;
  /** Registered dynamically (RFC 7591) rather than in the config file. */
  dynamic: boolean;
  /** Checks a presented secret; absent for public clients. */
  checkSecret?(secret: string): boolean;
}

/** Anything that can find a client by its id (static config, stateless registration, …). */
export interface ClientSource {
  find(id: string): Promise<Client | null> | Client | null;
}

export class StaticClients implements ClientSource {
  private byId = new Map<string, Client>();
  private builtFrom?: readonly ClientConfig[];
  private readonly current: () => readonly ClientConfig[];

  /** With a getter, a config reload (SIGHUP) that assigns a new list takes effect at the next look-up. */
  constructor(clients: readonly ClientConfig[] | (() => readonly ClientConfig[])) {
    this.current = typeof clients === 'function' ? clients : () => clients;
  }

  find(id: string): Client | null {
    const list = this.current();
    if (list !== this.builtFrom) {
      this.byId = StaticClients.index(list);
      this.builtFrom = list;
    }
    return this.byId.get(id) ?? null;
  }

  private static index(clients: readonly ClientConfig[]): Map<string, Client> {
    const byId = new Map<string, Client>();
    for (const c of clients) {
      const digest = c.secret_hash?.slice('sha256:'.length);
      byId.set(c.id, {
        id: c.id,
        name: c.name,
        public: c.public,
        authMethod: c.public ? 'none' : (c.token_endpoint_auth_method ?? 'client_secret_basic'),
        anySecretMethod: !c.public && c.token_endpoint_auth_method === undefined,
        loginProxy: !c.public && c.login_proxy === true,
        redirectUris: c.redirect_uris,
        grantTypes: c.grant_types,
        responseTypes: ['code'],
        scope: c.scope.split(' ').filter(Boolean),
        applicationType: c.application_type,
        clientUri: c.client_uri,
        logoUri: c.logo_uri,
        tosUri: c.tos_uri,
        policyUri: c.policy_uri,
        dynamic: false,
        checkSecret: digest ? sha256Matcher(digest) : undefined,
      });
    }
    return byId;
  }
}

/** Looks a client up in each source in turn. */
export class ClientRegistry {
  constructor(private readonly sources: ClientSource[]) {}

  async find(id: string): Promise<Client | null> {
    for (const source of this.sources) {
      const client = await source.find(id);
      if (client) return client;
    }
    return null;
  }

  /**
   * Client authentication at the token, revocation, introspection and device
   * endpoints. Exactly one method may be used (RFC 6749 section 2.3).
   */
  async authenticate(creds: ClientCredentials): Promise<Client> {
    if (creds.basic && creds.postSecret !== undefined) {
      throw invalidClient('use one client authentication method, not several');
    }
    const id = creds.basic?.id ?? creds.postId;
    if (!id) throw invalidClient('client authentication is required');
    if (creds.basic && creds.postId !== undefined && creds.postId !== creds.basic.id) {
      throw invalidClient('client_id does not match the authenticated client');
    }
    const client = await this.find(id);
    if (!client) throw invalidClient(UNKNOWN_CLIENT);
    const secret = creds.basic?.secret ?? creds.postSecret;
    if (client.public) {
      if (secret) throw invalidClient('this is a public client: it has no secret to present');
      return client;
    }
    // RFC 7591 2: the client uses the method it registered, and no other.
    const used: AuthMethod = creds.basic ? 'client_secret_basic' : 'client_secret_post';
    if (secret && used !== client.authMethod && !client.anySecretMethod) {
      throw invalidClient(`this client is registered for ${client.authMethod}, not ${used}`);
    }
    if (!secret || !client.checkSecret?.(secret)) throw invalidClient('client authentication failed');
    return client;
  }
}

export interface ClientCredentials {
  basic?: { id: string; secret: string };
  postId?: string;
  postSecret?: string;
}
