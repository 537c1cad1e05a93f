import type { Request } from 'express';
import type { Client } from '../oauth/clients.js';
import type { CoreDeps } from '../oauth/context.js';
import { OAuthError } from '../oauth/errors.js';
import { sha256Hex } from '../util/crypto.js';
import { clientCredentials } from './oauth-http.js';

export type ClientGate = (req: Request, params: Record<string, string>) => Promise<Client>;

/**
 * Client authentication for the back-channel endpoints, throttled per client:
 * failed authentications (guessing) and requests overall (a runaway or stolen
 * client). Success costs one extra store round trip; only failures count twice.
 */
export function clientGate(core: CoreDeps): ClientGate {
  const { per_client, failed_auth, window } = core.config.token_throttle;
  const failures = core.store.rateLimiter({ name: 'client-auth-failed', points: failed_auth, duration: window });
  const requests = core.store.rateLimiter({ name: 'client-requests', points: per_client, duration: window });
  // Dynamic client ids are long JWTs: key the counters by a digest.
  const keyOf = (id: string) => (id.length <= 64 ? id : sha256Hex(id));

  const tooMany = (retryAfterMs: number, what: string) =>
    new OAuthError('temporarily_unavailable', `too many ${what}; retry later`, 429).withHeaders({
      'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    });

  return async (req, params) => {
    const creds = clientCredentials(req, params);
    const id = creds.basic?.id ?? creds.postId ?? '';
    let client: Client;
    try {
      client = await core.clients.authenticate(creds);
    } catch (err) {
      if (err instanceof OAuthError && err.error === 'invalid_client' && id) {
        const counted = await failures.consume(keyOf(id));
        if (!counted.allowed) throw tooMany(counted.retryAfterMs, 'failed client authentications');
      }
      throw err;
    }
    const counted = await requests.consume(keyOf(client.id));
    if (!counted.allowed) throw tooMany(counted.retryAfterMs, 'requests from this client');
    return client;
  };
}
