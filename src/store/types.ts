// The storage contract. Every implementation (Redis, memory) must pass
// test/store/contract.ts. Methods speak intent; callers never see keys.
//
// Times are unix milliseconds; TTLs are seconds. Secrets (codes, refresh
// tokens, device codes) never reach the store: callers pass SHA-256 digests.

export interface Account {
  jid: string; // bare JID, already normalised
  /** argon2id PHC string; '' for an account with no local password (upstream sign-in only). */
  passwordHash: string;
  createdAt: number;
  /** Set when the account signs in through an upstream OpenID Connect provider. */
  upstream?: UpstreamOrigin;
  /** An admin disabled the account: no login of any kind until enabled again. */
  disabled?: boolean;
}

/** Who vouches for an account upstream: the provider's issuer and subject are the binding, never the user name. */
export interface UpstreamOrigin {
  provider: string;
  iss: string;
  sub: string;
  /** Last successful sign-in through that provider (unix ms). */
  lastLoginAt: number;
}

export type CreateUpstreamAccountResult = 'created' | 'jid-taken' | 'subject-taken';

/** What the browser left with when it went to the upstream provider: single use, short-lived. */
export interface UpstreamState {
  provider: string;
  nonce: string;
  codeVerifier: string;
  /** Local path to go back to after sign-in. */
  returnTo: string;
  /** SHA-256 of the browser's binding cookie: a callback from another browser (login CSRF) is refused. */
  browser: string;
  createdAt: number;
}

export interface SigningKey {
  kid: string; // RFC 7638 thumbprint
  alg: 'ES256' | 'EdDSA';
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
  createdAt: number;
  /** Not used to sign before this time: published in JWKS first. */
  activatesAt: number;
  /** Once set: no longer signs; removed from JWKS after `expiresAt`. */
  retiredAt?: number;
  expiresAt?: number;
}

/** A user's consent to one client: the parent of every token issued under it. */
export interface Grant {
  id: string;
  jid: string;
  clientId: string;
  scope: string[];
  createdAt: number;
  lastUsedAt: number;
  /** Display data captured at consent time, so the account page needs no client lookup. */
  clientName?: string;
  clientUri?: string;
  logoUri?: string;
  /** Absent: consent to an OAuth client. `app_password`: a password for a chat client (contract 4). */
  kind?: 'app_password';
  /** App passwords: what the user called it ("Dino on laptop"). */
  label?: string;
  /** App passwords: SHA-256 (hex) of the secret; the secret itself is never stored. */
  secretDigest?: string;
}

export interface AuthorizationCode {
  grantId: string;
  clientId: string;
  jid: string;
  redirectUri: string;
  scope: string[];
  codeChallenge?: string;
  codeChallengeMethod?: string;
  nonce?: string;
  authTime: number; // unix seconds
  amr?: string[];
  /** Filled by the store on consume, for the caller's convenience. */
  expiresAt?: number;
}

export type ConsumeCodeResult =
  | { status: 'ok'; code: AuthorizationCode }
  /** Already redeemed once: the caller must revoke `code.grantId`. */
  | { status: 'replayed'; code: AuthorizationCode }
  /** Valid, now used up, but its grant was revoked before redemption. */
  | { status: 'revoked' }
  | { status: 'missing' };

export interface RefreshToken {
  grantId: string;
  clientId: string;
  jid: string;
  scope: string[];
  issuedAt: number;
  expiresAt: number;
  /** Set once the token has been exchanged: presenting it again is a replay. */
  rotatedAt?: number;
}

export type RotateRefreshResult =
  | { status: 'ok'; previous: RefreshToken }
  /** The old token had already been rotated: the store has revoked the whole grant. */
  | { status: 'replayed'; grantId: string }
  | { status: 'missing' };

export type DeviceStatus = 'pending' | 'approved' | 'denied';

export interface DeviceGrant {
  id: string; // the non-secret half of the device code, also the hash-tag
  userCode: string; // normalised: 8 letters, no dash
  clientId: string;
  scope: string[];
  status: DeviceStatus;
  interval: number; // seconds; grows on slow_down
  lastPollAt: number; // 0 before the first poll
  createdAt: number;
  expiresAt: number;
  jid?: string;
  grantId?: string;
  authTime?: number;
}

export type PollDeviceResult =
  | { status: 'pending'; interval: number }
  | { status: 'slow_down'; interval: number }
  /** Approved: returned exactly once, the record is gone afterwards. */
  | { status: 'approved'; device: DeviceGrant }
  | { status: 'denied' }
  /** Unknown, expired, or already redeemed. */
  | { status: 'missing' };

export interface LoginSession {
  id: string;
  jid: string;
  authTime: number; // unix seconds
  amr: string[];
  createdAt: number;
  expiresAt: number;
}

export interface RateLimitRule {
  /** Namespaces counters, e.g. 'login-account'. */
  name: string;
  /** Attempts allowed per window. */
  points: number;
  /** Window length in seconds. */
  duration: number;
  /** Once exhausted, refuse for this many seconds (0: until the window ends). */
  blockDuration?: number;
}

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  /** Milliseconds until another attempt may be made (0 when allowed). */
  retryAfterMs: number;
}

export interface RateLimiter {
  /** Count one attempt against `key`. */
  consume(key: string): Promise<RateLimitResult>;
  /** Look without counting. */
  peek(key: string): Promise<RateLimitResult>;
  reset(key: string): Promise<void>;
}

export interface Store {
  readonly kind: 'redis' | 'memory';

  // accounts
  /** false when the account exists already. */
  createAccount(account: Account): Promise<boolean>;
  getAccount(jid: string): Promise<Account | null>;
  accountExists(jid: string): Promise<boolean>;
  /** false when there is no such account. */
  setPasswordHash(jid: string, passwordHash: string): Promise<boolean>;
  /** Removes the account and revokes all its grants. false when absent. */
  removeAccount(jid: string): Promise<boolean>;
  listAccounts(): Promise<string[]>;
  /** false when there is no such account. */
  setAccountDisabled(jid: string, disabled: boolean): Promise<boolean>;

  // upstream (OpenID Connect) identities
  /** The account bound to this upstream issuer + subject, or null. */
  findAccountBySubject(iss: string, sub: string): Promise<string | null>;
  /** Atomically creates an account with no local password, bound to `account.upstream`. */
  createUpstreamAccount(account: Account & { upstream: UpstreamOrigin }): Promise<CreateUpstreamAccountResult>;
  /** Binds an existing account to an upstream subject; false when the account is gone or already bound elsewhere. */
  linkUpstream(jid: string, origin: UpstreamOrigin): Promise<boolean>;
  /** Records a fresh upstream sign-in. false when the account is gone. */
  touchUpstreamLogin(jid: string, at: number): Promise<boolean>;
  /** The provider ended the person's session (back-channel logout): as if they had never signed in there. */
  forgetUpstreamLogin(jid: string): Promise<boolean>;
  /** true the first time `digest` (of a logout token's iss + jti) is seen within `ttl` seconds. */
  firstLogoutToken(digest: string, ttl: number): Promise<boolean>;
  saveUpstreamState(id: string, state: UpstreamState, ttl: number): Promise<void>;
  /** Atomic read-and-delete: a state works once. */
  takeUpstreamState(id: string): Promise<UpstreamState | null>;

  // signing keys
  listSigningKeys(): Promise<SigningKey[]>;
  /** Adds a key only if no key exists yet (first start, racing instances). Returns the key set after. */
  initSigningKeys(key: SigningKey): Promise<SigningKey[]>;
  addSigningKey(key: SigningKey): Promise<void>;
  updateSigningKey(key: SigningKey): Promise<void>;
  removeSigningKey(kid: string): Promise<void>;

  // grants
  saveGrant(grant: Grant): Promise<void>;
  /**
   * Rewrites an existing grant (wider scope, new lastUsedAt); false, writing
   * nothing, when it is gone: a revoked grant must never come back to life.
   */
  updateGrant(grant: Grant): Promise<boolean>;
  getGrant(id: string): Promise<Grant | null>;
  grantExists(id: string): Promise<boolean>;
  findGrant(jid: string, clientId: string): Promise<Grant | null>;
  listGrants(jid: string): Promise<Grant[]>;
  touchGrant(id: string, at: number): Promise<void>;
  /** Deletes the grant and every refresh token issued under it. false when absent. */
  revokeGrant(id: string): Promise<boolean>;

  // authorization codes (single use)
  saveCode(digest: string, code: AuthorizationCode, ttl: number): Promise<void>;
  /** Reads a code without using it up (null when unknown or expired). */
  peekCode(grantId: string, digest: string): Promise<{ code: AuthorizationCode; used: boolean } | null>;
  /** Atomic: marks the code used and checks its grant still exists, in one step. */
  consumeCode(grantId: string, digest: string): Promise<ConsumeCodeResult>;

  // refresh tokens (rotated)
  saveRefresh(digest: string, token: RefreshToken): Promise<void>;
  /** Live or already-rotated (then `rotatedAt` is set) token; null when unknown, expired or revoked. */
  getRefresh(grantId: string, digest: string): Promise<RefreshToken | null>;
  /** Atomically retires `oldDigest` and stores `next`; a second rotation of the same token revokes the grant. */
  /** Also marks the grant used (lastUsedAt), in the same atomic step. */
  rotateRefresh(grantId: string, oldDigest: string, newDigest: string, next: RefreshToken): Promise<RotateRefreshResult>;

  // device authorization grants
  /** false when the user code is taken by a live grant (caller draws another). */
  createDevice(device: DeviceGrant, deviceDigest: string): Promise<boolean>;
  findDeviceByUserCode(userCode: string): Promise<DeviceGrant | null>;
  /** Approve or deny a pending grant; false when it is gone or already decided. */
  decideDevice(userCode: string, decision: { status: 'approved'; jid: string; grantId: string; authTime: number } | { status: 'denied' }): Promise<boolean>;
  pollDevice(id: string, deviceDigest: string, now: number): Promise<PollDeviceResult>;

  // login sessions
  saveSession(session: LoginSession): Promise<void>;
  getSession(id: string): Promise<LoginSession | null>;
  deleteSession(id: string): Promise<void>;

  // throttling
  rateLimiter(rule: RateLimitRule): RateLimiter;

  /** Round trip to the backend; throws when it is unreachable. Returns latency in ms. */
  ping(): Promise<number>;
  close(): Promise<void>;
}
