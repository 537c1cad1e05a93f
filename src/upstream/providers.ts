// The configured upstream OpenID Connect providers, each discovered once (and
// again after a failure) through openid-client, the RP library doing every
// protocol check: PKCE, state, nonce, ID token signature and claims, and the
// RFC 9207 `iss` response parameter where the provider offers it.
import * as oidc from 'openid-client';
import type { Config, UpstreamProviderConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { UpstreamError } from './errors.js';

const TIMEOUT_SECONDS = 10;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface Provider {
  config: UpstreamProviderConfig;
  redirectUri: string;
  client: oidc.Configuration;
}

export class UpstreamProviders {
  // Keyed by the provider's config entry: a reload (SIGHUP) that changes an entry
  // replaces it, so the changed provider is discovered afresh; unchanged ones are kept.
  private readonly discovered = new WeakMap<UpstreamProviderConfig, Promise<oidc.Configuration>>();

  /** Reads config.upstream.providers at each use, so a reload takes effect at once. */
  constructor(
    private readonly config: Pick<Config, 'issuer' | 'upstream'>,
    private readonly log: Logger,
  ) {}

  list(): UpstreamProviderConfig[] {
    return [...this.config.upstream.providers];
  }

  /** The redirect URI to register at the provider. */
  redirectUri(id: string): string {
    return `${this.config.issuer}/upstream/${id}/callback`;
  }

  async get(id: string): Promise<Provider> {
    const config = this.config.upstream.providers.find((p) => p.id === id);
    if (!config) throw new UpstreamError('unknown-provider', `no upstream provider ${JSON.stringify(id.slice(0, 40))}`);
    let pending = this.discovered.get(config);
    if (!pending) {
      pending = this.discover(config);
      this.discovered.set(config, pending);
      // A provider that was down is asked again next time rather than remembered as broken.
      pending.catch(() => this.discovered.delete(config));
    }
    try {
      return { config, redirectUri: this.redirectUri(id), client: await pending };
    } catch (err) {
      this.log.warn({ provider: id, issuer: config.issuer, err: (err as Error).message }, 'upstream provider discovery failed');
      throw new UpstreamError('unavailable', `discovery of ${config.issuer} failed`);
    }
  }

  private discover(p: UpstreamProviderConfig): Promise<oidc.Configuration> {
    const issuer = new URL(p.issuer);
    // Plain http only for a provider on this machine (tests, a local IdP); never across a network.
    const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
    const auth = p.client_secret ? oidc.ClientSecretBasic(p.client_secret) : oidc.None();
    // The ID token's signature is checked too (against the provider's JWKS),
    // not only TLS to the token endpoint as OIDC Core 3.1.3.7 would permit: a
    // tampered or substituted ID token is refused whatever carried it.
    const execute = [oidc.enableNonRepudiationChecks, ...(insecure ? [oidc.allowInsecureRequests] : [])];
    return oidc.discovery(issuer, p.client_id, undefined, auth, { timeout: TIMEOUT_SECONDS, execute });
  }
}
