import type { Config } from '../config/schema.js';
import type { Client } from '../oauth/clients/clients.js';
import { describeScopes } from '../oauth/scopes.js';

function host(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  try {
    return new URL(uri).host || new URL(uri).protocol.replace(/:$/, '');
  } catch {
    return undefined;
  }
}

/** What the consent page shows about who is asking and for what. */
export function consentView(client: Client, scope: string[], redirectUri: string | undefined, config: Config) {
  return {
    clientName: client.name,
    clientUri: client.clientUri,
    clientHost: host(client.clientUri),
    logoUri: client.logoUri,
    tosUri: client.tosUri,
    policyUri: client.policyUri,
    dynamic: client.dynamic,
    redirectHost: host(redirectUri),
    scopes: describeScopes(scope),
    termsUrl: config.terms_url,
    policyUrl: config.policy_url,
  };
}
