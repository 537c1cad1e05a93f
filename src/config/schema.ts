import { z } from 'zod';
import { normaliseJid, prepLocalpart } from '../accounts/jid.js';

/**
 * Names people take for the operator (RFC 2142 mailboxes, system accounts):
 * an upstream sign-in never creates or links one (review #9).
 */
export const RESERVED_NAMES = [
  'admin', 'administrator', 'root', 'postmaster', 'hostmaster', 'webmaster', 'abuse', 'security',
  'support', 'noc', 'info', 'noreply', 'no-reply', 'nobody', 'system', 'sysadmin', 'operator', 'xmpp', 'prosody', 'ejabberd',
] as const;

// Every option lives here, once: its type, its default and its one-line doc
// (the `.describe()` text, which also feeds the README's reference table).
// Names follow mod_http_oauth2 without the `oauth2_` prefix.

const seconds = (def: number, doc: string) => z.number().int().positive().default(def).describe(doc);
const url = z.url({ protocol: /^https?$/ });
const GRANT_TYPES = ['authorization_code', 'refresh_token', 'device_code', 'password'] as const;
// The implicit flow (`token`) is deliberately absent: RFC 9700 2.1.2 says not to use it.
const RESPONSE_TYPES = ['code'] as const;

const clientSchema = z
  .strictObject({
    id: z.string().min(1).max(200).describe('The client_id (required)'),
    name: z.string().min(1).describe('Name shown on the consent page (required)'),
    secret_hash: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/, 'expected "sha256:" followed by 64 hex digits (see `xmpp-oauth client hash-secret`)')
      .optional()
      .describe('SHA-256 digest of the client secret (`xmpp-oauth client new-secret`); a confidential client needs it, a public one must not have it'),
    public: z.boolean().default(false).describe('Public client: no secret, PKCE mandatory, authenticates with client_id alone'),
    token_endpoint_auth_method: z
      .enum(['client_secret_basic', 'client_secret_post'])
      .optional()
      .describe('How a confidential client must present its secret (absent: either way)'),
    login_proxy: z
      .boolean()
      .optional()
      .describe("Sends other people's password grants from one address (an XMPP server's mod_auth_oauth_external): throttled per account, not per address"),
    redirect_uris: z
      .array(
        z
          .string()
          .min(1)
          .refine((s) => !/[\s\p{Cc}#]/u.test(s), 'a redirect URI must not contain a fragment (#), whitespace or control characters'),
      )
      .default([])
      .describe('Exact redirect URIs; at least one when grant_types has authorization_code'),
    grant_types: z
      .array(z.enum(GRANT_TYPES))
      .default(['authorization_code', 'refresh_token'])
      .describe('Grants this client may use (each must also be in allowed_grant_types); `device_code` is the device grant, `urn:ietf:params:oauth:grant-type:device_code` on the wire, and not in the default'),
    scope: z
      .string()
      .default('openid profile offline_access xmpp xmpp:client:normal')
      .describe('Space-separated scopes this client may receive (xmpp:account:read / xmpp:account:write only when listed)'),
    client_uri: url.optional().describe('Home page of the application, linked from the consent and account pages'),
    logo_uri: url.optional().describe('Logo shown on the consent and account pages'),
    tos_uri: url.optional().describe("Application's terms, linked from the consent page"),
    policy_uri: url.optional().describe("Application's privacy policy, linked from the consent page"),
    application_type: z.enum(['web', 'native']).default('web').describe('`native`: loopback redirect URIs match on any port (RFC 8252)'),
  })
  .refine((c) => c.public !== Boolean(c.secret_hash), {
    message: 'a client needs exactly one of secret_hash or public: true',
  })
  .refine((c) => !(c.public && c.login_proxy), {
    message: 'only a confidential client (with secret_hash) can be a login proxy',
    path: ['login_proxy'],
  })
  .refine((c) => !(c.public && c.token_endpoint_auth_method), {
    message: 'a public client has no secret: token_endpoint_auth_method does not apply',
    path: ['token_endpoint_auth_method'],
  })
  .refine((c) => !c.grant_types.includes('authorization_code') || c.redirect_uris.length > 0, {
    message: 'a client using authorization_code needs at least one redirect_uris entry',
    path: ['redirect_uris'],
  });

const resourceServerSchema = z.strictObject({
  id: z.string().min(1).describe('Credential name used with HTTP Basic at /oauth2/introspect (required)'),
  secret_hash: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'expected "sha256:" followed by 64 hex digits')
    .describe('SHA-256 digest of its secret, from `xmpp-oauth client hash-secret` (required)'),
});

// A claim must equal one of the listed values, or (an array claim such as
// `groups`) contain one of them. Every key of `allow` must match.
const claimCondition = z.record(z.string().min(1), z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]));

const upstreamProviderSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'expected 1-32 lowercase letters, digits, "-" or "_" (it is part of the redirect URI)')
      .describe('Short name, part of the redirect URI <issuer>/upstream/<id>/callback'),
    name: z.string().min(1).max(60).describe('Button label: "Sign in with <name>"'),
    issuer: url
      .refine((u) => u.startsWith('https:') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(u), {
        message: 'must be https (plain http only for a provider on this machine)',
      })
      .describe("The provider's issuer URL (OpenID Connect discovery is used; https, or http on loopback)"),
    client_id: z.string().min(1).describe('Our client_id at the provider'),
    client_secret: z.string().min(1).optional().describe('Our client secret at the provider (absent: a public client with PKCE)'),
    scope: z
      .string()
      .default('openid profile')
      .refine((s) => s.split(' ').includes('openid'), { message: 'must include openid' })
      .describe('Scopes asked of the provider'),
    username_claim: z.string().min(1).default('preferred_username').describe('Claim whose normalised value becomes the user part of the JID'),
    host: z.string().min(1).optional().describe('XMPP domain of the accounts it creates, one of xmpp.hosts (default: the first)'),
    allow: claimCondition.optional().describe('Claims a user must have, e.g. { groups: xmpp-users }; a list means any one of them'),
    link_existing: z.boolean().default(false).describe('Let the first sign-in take over an existing local account with the same JID'),
    acr_values: z.string().min(1).optional().describe('acr_values sent to the provider with each sign-in (e.g. to ask it for a second factor)'),
    mfa_acr_values: z
      .array(z.string().min(1))
      .default([])
      .describe("The provider's acr values that mean a multi-factor sign-in (its amr is read too: mfa, or two kinds of factor)"),
  })
  .describe('An upstream OpenID Connect provider');

export const configSchema = z.strictObject({
  issuer: url
    .optional()
    .describe('Public base URL of this server (default: http://<http.host>:<http.port>)'),
  site_name: z.string().default('XMPP account').describe('Name shown on the login and consent pages'),
  terms_url: url.optional().describe("Operator's terms of service, linked from the pages and discovery"),
  policy_url: url.optional().describe("Operator's privacy policy, linked from the pages and discovery"),
  template_path: z.string().optional().describe('Folder whose templates/CSS override the built-in views'),
  security_policy: z
    .string()
    .default("default-src 'self'")
    .describe('Content-Security-Policy sent with every HTML page'),

  access_token_ttl: seconds(3600, 'Access token lifetime, seconds'),
  refresh_token_ttl: seconds(604800, 'Refresh token lifetime, seconds'),
  id_token_on_refresh: z
    .boolean()
    .default(true)
    .describe('A refresh with the openid scope answers a new ID token too (OpenID Connect Core 12.2 lets a server leave it out; false saves one signature per refresh)'),
  code_ttl: seconds(120, 'Authorization code lifetime, seconds'),
  device_code_ttl: seconds(600, 'Device code lifetime, seconds'),
  device_poll_interval: seconds(5, 'Minimum interval between device-code polls, seconds'),
  session_ttl: seconds(86400, 'Browser login session lifetime, seconds'),
  setpass_revokes_grants: z
    .boolean()
    .default(false)
    .describe('A password change by the XMPP server (setpass) also revokes every grant of the account; web sessions end either way'),

  registration_key: z
    .string()
    .min(32, 'must be at least 32 characters')
    .optional()
    .describe('Secret that enables dynamic client registration (RFC 7591)'),
  registration_algorithm: z.enum(['HS256', 'HS384', 'HS512']).default('HS256').describe('JWT algorithm of registered client_ids'),
  registration_ttl: z.number().int().positive().optional().describe('Lifetime of registered clients, seconds (default: unlimited)'),

  allowed_grant_types: z
    .array(z.enum(GRANT_TYPES))
    .default(['authorization_code', 'refresh_token', 'device_code'])
    .describe('Grant types the token endpoint accepts'),
  allowed_response_types: z.array(z.enum(RESPONSE_TYPES)).default(['code']).describe('Response types the authorization endpoint accepts (implicit `token` is not offered: RFC 9700)'),
  require_code_challenge: z.boolean().default(true).describe('Require PKCE for every authorization request'),
  allowed_code_challenge_methods: z.array(z.enum(['S256', 'plain'])).default(['S256']).describe('Accepted PKCE methods'),
  expect_username_jid: z.boolean().default(false).describe('Password grant: username must be a full bare JID'),

  signing_algorithm: z.enum(['ES256', 'EdDSA']).default('ES256').describe('Algorithm of newly generated signing keys'),
  signing_key_file: z.string().optional().describe('PEM or JWK file with the private signing key (default: generated, kept in the store)'),
  cookie_secrets: z
    .array(z.string().min(32, 'must be at least 32 characters'))
    .optional()
    .describe('Keys signing session cookies and CSRF tokens; first signs, all verify (default: random per process)'),

  password_hash_concurrency: z
    .number()
    .int()
    .min(1)
    .max(64)
    .optional()
    .describe('argon2id hashes computed at once (default: CPU cores minus one, at least 1, so a login burst leaves the event loop a core)'),

  scram: z
    .strictObject({
      sha1_iterations: z.number().int().min(4096).max(1_000_000).default(10000).describe('PBKDF2 iterations of new SCRAM-SHA-1 verifiers (Prosody writes 10000)'),
      sha256_iterations: z.number().int().min(4096).max(1_000_000).default(10000).describe('PBKDF2 iterations of new SCRAM-SHA-256 verifiers (RFC 7677 asks for at least 4096)'),
    })
    .prefault({})
    .describe('SCRAM verifiers stored beside each argon2id hash, so the XMPP server can offer SCRAM-SHA-1 and SCRAM-SHA-256'),

  login_throttle: z
    .strictObject({
      per_account: z.number().int().positive().default(5).describe('Failed logins per account per window'),
      per_address: z.number().int().positive().default(30).describe('Failed logins per client address per window'),
      window: seconds(900, 'Throttle window, seconds'),
    })
    .prefault({})
    .describe('Throttling of failed logins'),

  token_throttle: z
    .strictObject({
      per_client: z.number().int().positive().default(6000).describe('Token, revocation and introspection requests per client per window (public clients: per client and caller address)'),
      failed_auth: z.number().int().positive().default(20).describe('Failed client or resource-server authentications per credential id and caller address per window'),
      window: seconds(60, 'Throttle window, seconds'),
    })
    .prefault({})
    .describe('Throttling of the back-channel endpoints'),

  address_throttle: z
    .strictObject({
      registrations: z.number().int().positive().default(20).describe('Dynamic client registrations per caller address per window'),
      device_authorizations: z.number().int().positive().default(60).describe('Device authorization requests per caller address per window'),
      window: seconds(600, 'Throttle window, seconds'),
    })
    .prefault({})
    .describe('Throttling of endpoints that anyone may call, per caller address'),

  mfa: z
    .strictObject({
      required: z
        .enum(['none', 'optional', 'required'])
        .default('optional')
        .describe('Second factors on the web sign-in: none (not offered; factors already set up are still asked), optional (each account chooses), required (an account without one must set one up before its sign-in finishes)'),
    })
    .prefault({})
    .describe('Second factors (TOTP) on the web sign-in'),
  recent_sign_in: seconds(
    900,
    'How recent (seconds) the browser\'s sign-in must be to set up a second factor or passkey, remove a passkey, change where the password works or make an app password; an older sign-in is asked to sign in again, so a borrowed or stolen browser session cannot plant a lasting way in',
  ),
  password_logins: z
    .enum(['anywhere', 'app_passwords_only'])
    .default('anywhere')
    .describe("Where an account's main password works unless the account chooses: anywhere, or app_passwords_only (the web sign-in only; XMPP logins, the password grant and extauth then need an app password or a token)"),
  local_login: z.boolean().default(true).describe('Offer the password form on the login page (false: upstream providers only)'),
  upstream: z
    .strictObject({
      providers: z.array(upstreamProviderSchema).default([]).describe('OpenID Connect providers people may sign in with'),
      revalidate_days: z
        .number()
        .positive()
        .default(30)
        .describe('App passwords and refresh tokens of an upstream account lapse this many days after its last upstream sign-in'),
      state_ttl: seconds(600, 'How long a sign-in at the provider may take, seconds'),
      reserved_names: z
        .array(
          z.string().transform((name, ctx) => {
            try {
              return prepLocalpart(name);
            } catch (err) {
              ctx.addIssue({ code: 'custom', message: `"${name}" is not an XMPP user name: ${(err as Error).message}` });
              return name;
            }
          }),
        )
        .default([...RESERVED_NAMES])
        .describe('User names a sign-in never creates or links, at any host (nor any JID in admins)'),
    })
    .prefault({})
    .describe('Sign-in through upstream identity providers'),

  clients: z.array(clientSchema).default([]).describe('Statically registered clients'),
  resource_servers: z.array(resourceServerSchema).default([]).describe('Credentials allowed to introspect any token'),
  admins: z
    .array(
      z.string().transform((jid, ctx) => {
        const bare = normaliseJid(jid);
        if (!bare) ctx.addIssue({ code: 'custom', message: `"${jid}" is not a bare JID (user@host, no resource)` });
        return bare ?? jid;
      }),
    )
    .default([])
    .describe('Bare JIDs allowed to manage other users\u2019 grants over XMPP'),

  ejabberd_lookup: z
    .strictObject({
      enabled: z.boolean().default(false).describe("Answer ejabberd's oauth_db_type: rest token lookups at POST /oauth/lookup"),
      secret: z
        .string()
        .min(16, 'must be at least 16 characters')
        .optional()
        .describe('Bearer secret ejabberd must send (ext_api_headers); without it only loopback callers without proxy headers are answered, and none while http.trust_proxy is set'),
    })
    .prefault({})
    .describe('SASL X-OAUTH2 for ejabberd'),

  ejabberd_api: z
    .strictObject({
      url: url
        .optional()
        .describe("ejabberd's mod_http_api base URL (e.g. http://127.0.0.1:5281/api): a revoked grant or app password, a disabled or removed account, or a password change that signs out sessions then ends the account's live ejabberd sessions, all of them (kick_user)"),
      authorization: z.string().optional().describe('Authorization header sent with each call, when the API asks for one (e.g. "Basic ..."); loopback api_permissions need none'),
    })
    .prefault({})
    .describe('Ending live sessions on ejabberd, which has no module of ours'),

  http: z
    .strictObject({
      host: z.string().default('127.0.0.1').describe('HTTP listen address'),
      port: z.number().int().min(0).max(65535).default(8080).describe('HTTP listen port'),
      trust_proxy: z.union([z.boolean(), z.number().int(), z.string()]).default(false).describe('Express trust proxy setting'),
    })
    .prefault({})
    .describe('Embedded HTTP server'),

  metrics: z
    .strictObject({
      port: z
        .number()
        .int()
        .min(0)
        .max(65535)
        .optional()
        .describe('Port of a separate listener that serves only /metrics; when set, the public listener has no /metrics'),
      host: z.string().default('127.0.0.1').describe('Listen address of the separate metrics listener (with metrics.port)'),
      token: z
        .string()
        .min(16, 'must be at least 16 characters')
        .optional()
        .describe('Bearer token /metrics requires; without it and without metrics.port, /metrics is served only when http.host is loopback and http.trust_proxy is unset, to local callers without proxy headers'),
    })
    .prefault({})
    .describe('Prometheus metrics endpoint'),

  redis: z
    .strictObject({
      url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').optional().describe('Redis URL (absent, with no sentinels or cluster: in-memory store, lost on restart)'),
      sentinels: z
        .array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port'))
        .optional()
        .describe('Redis Sentinel addresses (host:port); needs redis.name'),
      name: z.string().optional().describe('Sentinel master group name'),
      cluster: z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')).optional().describe('Redis Cluster seed nodes (host:port)'),
      password: z.string().optional().describe('Password for Sentinel-managed or Cluster nodes (a URL carries its own)'),
      sentinel_password: z.string().optional().describe('Password of the Sentinels themselves (their requirepass), when they have one'),
      key_prefix: z.string().default('xo:').describe('Prefix of every Redis key'),
      tls: z
        .strictObject({
          ca_file: z.string().optional().describe('PEM file with the CA certificate(s) that signed the Redis servers\u2019 certificates (default: the system\u2019s CAs)'),
          cert_file: z.string().optional().describe('PEM client certificate, for servers that require one (tls-auth-clients); needs key_file'),
          key_file: z.string().optional().describe('PEM private key of cert_file'),
          servername: z.string().optional().describe('Name the servers\u2019 certificates must carry (default: the host connected to)'),
        })
        .refine((t) => Boolean(t.cert_file) === Boolean(t.key_file), { message: 'redis.tls.cert_file and key_file go together' })
        .optional()
        .describe('TLS to Redis, with rediss:// URLs, Sentinels (and the nodes they name) and Cluster nodes alike'),
    })
    .prefault({})
    .refine((r) => [r.url, r.sentinels, r.cluster].filter(Boolean).length <= 1, {
      message: 'set only one of redis.url, redis.sentinels or redis.cluster',
    })
    .refine((r) => !r.sentinels || r.name, { message: 'redis.sentinels needs redis.name (the master group)', path: ['name'] })
    .refine((r) => !r.sentinel_password || r.sentinels, { message: 'redis.sentinel_password is only used with redis.sentinels', path: ['sentinel_password'] })
    .refine((r) => !r.tls || !r.url || r.url.startsWith('rediss://'), { message: 'redis.tls needs a rediss:// URL (redis:// is plain text)', path: ['url'] })
    .describe('Shared state'),

  xmpp: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Attach to an XMPP server as a component'),
      service: z.string().regex(/^xmpp:\/\/[^/]+:\d+$/, 'expected xmpp://host:port').default('xmpp://127.0.0.1:5347').describe('Component port of the XMPP server'),
      domain: z.string().default('oauth.localhost').describe('This component\u2019s JID'),
      secret: z.string().default('').describe('Component shared secret'),
      hosts: z.array(z.string().min(1)).default(['localhost']).describe('XMPP domains whose users this server serves'),
      session_recheck_interval: z
        .number()
        .int()
        .min(0)
        .default(300)
        .describe('Seconds between re-checks of the grants behind live XMPP sessions (closes those whose revocation news was lost); 0 = only when the link or Redis reconnects'),
    })
    .prefault({})
    .describe('Component link'),

  activity: z
    .strictObject({
      ttl_days: z.number().int().min(1).max(3650).default(90).describe("Days an account's security activity (/account/activity, its last 100 events) is kept after its latest event"),
      xmpp_login_window: seconds(3600, 'XMPP logins of one account with the same client and way of logging in are recorded at most once per this many seconds'),
    })
    .prefault({})
    .describe('Security activity log'),

  notices: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe('Tell users over XMPP when an app gets access, an app password is made, a second factor changes or the password changes (each user can turn it off or on at /account)'),
    })
    .prefault({})
    .describe('"New access" notices over XMPP'),

  readyz: z
    .strictObject({
      require_xmpp: z
        .boolean()
        .default(true)
        .describe('/readyz answers 503 while the component link is down (standing by for a sibling that holds the slot counts as up); false: readiness ignores the link. Without XMPP set xmpp.enabled: false'),
    })
    .prefault({})
    .describe('Readiness check'),

  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level'),
    })
    .prefault({}),
});

/** The validated config; the loader always fills in `issuer`. */
export type Config = Omit<z.infer<typeof configSchema>, 'issuer'> & { issuer: string };
export type ClientConfig = Config['clients'][number];
export type UpstreamProviderConfig = Config['upstream']['providers'][number];

/** Keys whose values are masked when the effective config is printed. */
export const SECRET_KEYS = new Set(['registration_key', 'secret', 'cookie_secrets', 'secret_hash', 'url', 'password', 'sentinel_password', 'token', 'client_secret', 'authorization']);
