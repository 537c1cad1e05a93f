import type { IncomingHttpHeaders } from 'node:http';
import type { Client } from '../oauth/clients/clients.js';
import type { CoreDeps } from '../oauth/context.js';
import { UNKNOWN_CLIENT } from '../oauth/clients/clients.js';
import { OAuthError, invalidClient } from '../oauth/errors.js';
import { sha256Hex, sha256Matcher } from '../util/crypto.js';
import { clientCredentials } from './oauth-http.js';

/** What the gates read of a request: an Express Request or the lean dispatcher's view of one. */
export interface GateRequest {
  headers: IncomingHttpHeaders;
  /** The caller's address as `trust proxy` sees it. */
  ip?: string;
  socket: { remoteAddress?: string };
}

export type ClientGate = (req: GateRequest, params: Record<string, string>) => Promise<Client>;
export type ResourceServerGate = (req: GateRequest, params: Record<string, string>) => Promise<{ id: string } | null>;

// Dynamic client ids are long JWTs: key the counters by a digest.
const keyOf = (id: string) => (id.length <= 64 ? id : sha256Hex(id));
const addressOf = (req: GateRequest) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

const tooMany = (retryAfterMs: number, what: string) =>
  new OAuthError('temporarily_unavailable', `too many ${what}; retry later`, 429).withHeaders({
    'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
  });

/**
 * Failed authentications (secret guessing) are counted per credential id
 * *and* caller address. The budget decides the answer before the secret's
 * verdict does, so a throttled caller gets 429 whether its guess is right or
 * wrong (no oracle), and one anonymous caller cannot lock a client out for
 * everyone.
 */
function failureGate(core: CoreDeps) {
  const { failed_auth, window } = core.config.token_throttle;
  // Counted in process, shared every FAILED_AUTH_FLUSH_MS; a used-up budget is announced to every instance at once (docs/operations.md: tolerance).
  const failures = core.store.rateLimiter({ name: 'client-auth-failed', points: failed_auth, duration: window, localPeek: true, localFlushMs: FAILED_AUTH_FLUSH_MS });
  return {
    async before(key: string): Promise<void> {
      const budget = await failures.peek(key);
      if (!budget.allowed) throw tooMany(budget.retryAfterMs, 'failed client authentications');
    },
    async failed(key: string): Promise<void> {
      const counted = await failures.consume(key);
      if (!counted.allowed) throw tooMany(counted.retryAfterMs, 'failed client authentications');
    },
  };
}

/** How often each instance adds its per-client request counts to the shared ones (docs/performance.md: tolerance). */
export const REQUEST_BUDGET_FLUSH_MS = 100;
/** The same for failed client authentications (a block is announced as soon as it is seen). */
export const FAILED_AUTH_FLUSH_MS = 100;

/**
 * Client authentication for the back-channel endpoints, throttled: failed
 * authentications (above), and requests overall per client (a runaway or
 * stolen client). A public client has no secret, so anyone can name it: its
 * request budget is per client and caller address, or junk requests from one
 * caller would deny the client to every user (issue 12 #4).
 */
export function clientGate(core: CoreDeps): ClientGate {
  const { per_client, window } = core.config.token_throttle;
  const gate = failureGate(core);
  // A runaway client's budget, not a guessing one: counted in process, shared every REQUEST_BUDGET_FLUSH_MS.
  const requests = core.store.rateLimiter({ name: 'client-requests', points: per_client, duration: window, localFlushMs: REQUEST_BUDGET_FLUSH_MS });

  return async (req, params) => {
    const creds = clientCredentials(req, params);
    const id = creds.basic?.id ?? creds.postId ?? '';
    const address = addressOf(req);
    const failKey = `${keyOf(id)}@${address}`;
    let client: Client;
    try {
      // In-process and constant-time; nothing is answered before the budget is consulted below.
      client = await core.clients.authenticate(creds);
    } catch (err) {
      if (err instanceof OAuthError && err.error === 'invalid_client' && id) {
        // Made-up client ids share one budget per address: they cannot push real clients' counts out of memory.
        const key = err.description === UNKNOWN_CLIENT ? `?@${address}` : failKey;
        await gate.before(key);
        await gate.failed(key);
      }
      throw err;
    }
    // The budget and the request count in one round trip: the success path stays as cheap as before.
    const [, counted] = await Promise.all([
      gate.before(failKey),
      requests.consume(client.public ? `${keyOf(client.id)}@${address}` : keyOf(client.id)),
    ]);
    if (!counted.allowed) throw tooMany(counted.retryAfterMs, 'requests from this client');
    return client;
  };
}

/**
 * Credentials of `resource_servers` (introspection of any token), throttled
 * like client secrets. null when the id is not a resource server's.
 */
export function resourceServerGate(core: CoreDeps): ResourceServerGate {
  const gate = failureGate(core);
  // One matcher per configured digest (a reloaded config brings its own).
  const matchers = new Map<string, (secret: string) => boolean>();
  const matches = (hash: string, secret: string) => {
    let m = matchers.get(hash);
    if (!m) matchers.set(hash, (m = sha256Matcher(hash.slice('sha256:'.length))));
    return m(secret);
  };
  return async (req, params) => {
    const creds = clientCredentials(req, params);
    const id = creds.basic?.id ?? creds.postId;
    const rs = core.config.resource_servers.find((r) => r.id === id);
    if (!rs) return null;
    const failKey = `rs:${keyOf(rs.id)}@${addressOf(req)}`;
    await gate.before(failKey);
    const secret = creds.basic?.secret ?? creds.postSecret;
    if (!secret || !matches(rs.secret_hash, secret)) {
      core.log.info({ resource_server: rs.id.slice(0, 64) }, 'resource server authentication failed');
      await gate.failed(failKey);
      throw invalidClient('resource server authentication failed');
    }
    return { id: rs.id };
  };
}
