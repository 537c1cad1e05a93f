// The storage contract. Every implementation (Redis, memory) must pass
// test/store/contract.ts. Methods speak intent; callers never see keys.
//
// Times are unix milliseconds; TTLs are seconds. Secrets (codes, refresh
// tokens, device codes) never reach the store: callers pass SHA-256 digests.

import type { SecondFactorStore } from './second-factor/types.js';
import type { ActivityLog } from './activity/types.js';
import type { PasskeyStore } from './passkeys/types.js';

export type ScramHash = 'SHA-1' | 'SHA-256';

/** A SCRAM verifier (RFC 5802): as secret as a password hash. Binary fields in base64. */
export interface ScramVerifier {
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

export type ScramRecords = Partial<Record<ScramHash, ScramVerifier>>;

export interface Account {
  jid: string; // bare JID, already normalised
  /**
   * argon2id PHC string; '' for an account with no local password (upstream
   * sign-in only) or with only an imported SCRAM record (until its first login).
   */
  passwordHash: string;
  /** SCRAM verifiers of the same password, for the XMPP server's SCRAM mechanisms. */
  scram?: ScramRecords;
  createdAt: number;
  /**
   * Login sessions carry the epoch of the account they were opened for and
   * are valid only while it is unchanged: a new password, "sign out
   * everywhere" or a re-created account (new random epoch) ends them all, on
   * every instance, without an index of sessions. Absent on accounts written
   * before epochs existed: reads as ''.
   */
  epoch?: string;
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

/** What a password leaves in the store: never the password itself. */
export interface PasswordCredentials {
  passwordHash: string;
  scram?: ScramRecords;
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
  /**
   * Login sessions carry the epoch of the account they were opened for and
   * are valid only while it is unchanged: a new password, "sign out
   * everywhere" or a re-created account (new random epoch) ends them all, on
   * every instance, without an index of sessions. Absent on accounts written
   * before epochs existed: reads as ''.
   */
  epoch?: string;
}

/**
 * What a running server publishes for the helpers that share its store (the
 * extauth bridge), so they need not repeat its configuration.
 */
export interface ServerInfo {
  issuer: string;
  hosts: string[];
  /** Public JWKs of signing keys the store does not hold (a `signing_key_file`). */
  verificationKeys?: Record<string, unknown>[];
  publishedAt: number;
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
  /** The SASL2 `<user-agent>` of the latest XMPP login that used this grant (issue 24 #2). */
  userAgent?: UserAgent;
}

/** XEP-0388 `<user-agent>`: the client's stable id, its software and the device, each optional. */
export interface UserAgent {
  id?: string;
  software?: string;
  device?: string;
}

export interface AuthorizationCode {
  grantId: string;
  clientId: string;
  jid: string;
  redirectUri: string;
  /** The authorization request carried redirect_uri, so the token request must repeat it (RFC 6749 4.1.3). */
  redirectUriSent?: boolean;
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

/**
 * rotateRefreshAs: as rotateRefresh, or the token is another client's, or
 * this store cannot rotate it in one step (use getRefresh and rotateRefresh);
 * in both cases nothing changed.
 */
export type RotateRefreshAsResult = RotateRefreshResult | { status: 'other-client' } | { status: 'long-way' };

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
  /** How the approving sign-in was made (RFC 8176), for the ID token's amr and acr. */
  amr?: string[];
}

export type PollDeviceResult =
  | { status: 'pending'; interval: number }
  | { status: 'slow_down'; interval: number }
  /** Approved: returned exactly once, the record is gone afterwards. */
  | { status: 'approved'; device: DeviceGrant }
  | { status: 'denied' }
  /** The device code is right but was issued to another client: nothing changed. */
  | { status: 'wrong_client' }
  /** Unknown, expired, or already redeemed. */
  | { status: 'missing' };

export interface LoginSession {
  id: string;
  jid: string;
  authTime: number; // unix seconds
  amr: string[];
  createdAt: number;
  expiresAt: number;
  /** The account's epoch when the session was opened (absent reads as ''). */
  epoch?: string;
}

/** One grant ended, by whatever door; every instance sharing the store hears of it. */
export interface GrantRevokedEvent {
  grantId: string;
  /** The grant's account, when the revoking step knew it (routes the news to the right XMPP host). */
  jid?: string;
  /** The grant's scope, when known: ejabberd's session ender skips grants that could not have logged in. */
  scope?: string[];
  /** Unix ms. */
  at: number;
}

export interface RevocationListener {
  (event: GrantRevokedEvent): void;
}

/**
 * An account changed in a way every instance must hear of: removed, disabled
 * or enabled, linked to an upstream identity, or its upstream sign-in ended
 * (back-channel logout). Shares the revocation feed (and its gaps).
 */
export interface AccountNewsEvent {
  jid: string;
  kind: 'removed' | 'disabled' | 'enabled' | 'linked' | 'upstream-logout' | 'password-changed';
  /** Unix ms. */
  at: number;
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
  /**
   * Count in process and add to the shared counter every this many ms instead
   * of a round trip per attempt (Redis store; the memory store is local
   * anyway). Exact on one instance, and race-free there (the count is taken
   * synchronously); across instances the budget may be overshot by what the
   * others admitted before their flush (with localPeek, before their
   * announcement) arrived. Never for password guessing, where a guess costs
   * an argon2id hash and the reservation before it must be atomic everywhere.
   */
  localFlushMs?: number;
  /**
   * Answer peek() from memory: every instance announces the blocks its
   * consume() runs into (the budget used up, or an attempt refused), and an
   * instance trusts its own copy only after it has heard every announcement
   * for a whole window (Redis store with the feed on; otherwise peek asks
   * Redis). Across instances a block holds once its announcement has
   * arrived (one pub/sub delivery). With localFlushMs too, consume() counts
   * in process, and peek() reads the shared total from Redis until the feed
   * has been heard for a whole window.
   */
  localPeek?: boolean;
}

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  /** Milliseconds until another attempt may be made (0 when allowed). */
  retryAfterMs: number;
  /** When allowed: milliseconds until the current window ends, where known. */
  windowLeftMs?: number;
}

export interface RateLimiter {
  /**
   * Count one attempt against `key`, atomically: of N concurrent calls at most
   * `points` are allowed. Reserve before the costly check, refund on success.
   */
  consume(key: string): Promise<RateLimitResult>;
  /** Give back a point taken by consume (the attempt turned out to be fine). */
  refund(key: string): Promise<void>;
  /** Look without counting. */
  peek(key: string): Promise<RateLimitResult>;
  reset(key: string): Promise<void>;
}

/**
 * Bound on one grant's refresh tokens: a chain rotated hourly for a week, for
 * a dozen devices of one user on one app, fits; a client minting tokens in a
 * loop cannot grow the grant without limit (issue 12 #11).
 */
export const MAX_REFRESH_PER_GRANT = 500;

export interface Store {
  readonly kind: 'redis' | 'memory';
  /** Second factors of accounts (issue 26), a store domain of its own. */
  readonly secondFactors: SecondFactorStore;
  /** Accounts' security activity and the notice queue (issue 26), a store domain of its own. */
  readonly activity: ActivityLog;
  /** Passkeys (WebAuthn credentials) of accounts and their ceremonies' challenges (issue 26), a store domain of its own. */
  readonly passkeys: PasskeyStore;

  // accounts
  /** false when the account exists already. */
  createAccount(account: Account): Promise<boolean>;
  getAccount(jid: string): Promise<Account | null>;
  accountExists(jid: string): Promise<boolean>;
  /**
   * Replaces every credential of the account (argon2id hash and SCRAM verifiers
   * together). false when there is no such account. Draws a new epoch: every
   * login session of the account ends.
   */
  setPasswordCredentials(jid: string, credentials: PasswordCredentials): Promise<boolean>;
  /**
   * Adds what a first login with an imported record computed (the argon2id hash,
   * the missing verifiers), only if the account's credentials are still the ones
   * that login checked (`expected`): a password change in between wins. Sessions
   * stay. true when written.
   */
  upgradeCredentials(jid: string, expected: PasswordCredentials, next: PasswordCredentials): Promise<boolean>;
  /**
   * Draws a new epoch for the account, so every login session of it ends;
   * returns the epoch (to re-bind a session that is to survive), null when
   * there is no such account.
   */
  renewAccountEpoch(jid: string): Promise<string | null>;
  /**
   * Removes the account; its login sessions end with it. Its grants are left
   * to the caller, which revokes them through the grant-management core (so
   * every revocation is announced). false when absent.
   */
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

  // the running server's identity (issuer, hosts), for the extauth bridge
  publishServerInfo(info: ServerInfo): Promise<void>;
  /**
   * A random secret of this deployment, made on first use and the same on every
   * instance from then on (e.g. what SCRAM decoys are derived from). Base64.
   */
  deploymentSecret(name: string): Promise<string>;
  serverInfo(): Promise<ServerInfo | null>;

  // grants
  saveGrant(grant: Grant): Promise<void>;
  /**
   * Rewrites an existing grant (wider scope, new lastUsedAt); false, writing
   * nothing, when it is gone: a revoked grant must never come back to life.
   */
  updateGrant(grant: Grant): Promise<boolean>;
  getGrant(id: string): Promise<Grant | null>;
  /**
   * Whether the grant lives. The Redis store may answer from its process
   * copy; `fresh` asks Redis itself (the re-check that exists to catch
   * revocation news that never arrived).
   */
  grantExists(id: string, opts?: { fresh?: boolean }): Promise<boolean>;
  /**
   * The grant a token names, if it lives, is `jid`'s, and was made by the
   * account `jid` has now (grantOfAccount): a token outlives neither a removal
   * nor a re-created JID. The Redis store may answer from a process copy
   * that revocations and account removals invalidate on every instance.
   */
  tokenGrant(id: string, jid: string): Promise<Grant | null>;
  findGrant(jid: string, clientId: string): Promise<Grant | null>;
  listGrants(jid: string): Promise<Grant[]>;
  /** How many grants `jid` has (may briefly count one revoked a moment ago). */
  countGrants(jid: string): Promise<number>;
  /** Marks the grant used at `at`; with a user agent, records it in the same write (issue 24 #2). */
  touchGrant(id: string, at: number, userAgent?: UserAgent): Promise<void>;
  /**
   * Deletes the grant and every refresh token issued under it. false when absent.
   * Every revocation the store performs (this, removeAccount, a refresh-token
   * replay in rotateRefresh) also announces itself as a GrantRevokedEvent.
   */
  revokeGrant(id: string): Promise<boolean>;

  // revocation news (Redis: pub/sub; memory: in-process)
  /** Tells every instance sharing this store (this one included) that a grant ended. Best effort: never throws. */
  publishRevocation(event: GrantRevokedEvent): Promise<void>;
  /**
   * Listens for revocations from every instance. `onGap` runs whenever the feed
   * (re)connects, because events published while it was down are lost: the
   * listener should then re-check what it holds. Returns an unsubscribe function.
   */
  onRevocation(listener: RevocationListener, onGap?: () => void): () => void;
  /** Account news that the password changed and its chat sessions opened with the old one must end. */
  announcePasswordChanged(jid: string): Promise<void>;
  /** Listens for account news from every instance (this one included). Returns an unsubscribe function. */
  onAccountNews(listener: (event: AccountNewsEvent) => void): () => void;
  /**
   * Tells every instance that this one let go of the XMPP component slot for
   * `domain` (Prosody takes one connection per component), so a standby asks
   * for it now. Best effort: never throws.
   */
  publishSlotFreed(domain: string): Promise<void>;
  /** Hears slot news from every instance (this one included). Returns an unsubscribe function. */
  onSlotFreed(listener: (domain: string) => void): () => void;

  // authorization codes (single use)
  saveCode(digest: string, code: AuthorizationCode, ttl: number): Promise<void>;
  /** Reads a code without using it up (null when unknown or expired). */
  peekCode(grantId: string, digest: string): Promise<{ code: AuthorizationCode; used: boolean } | null>;
  /** Atomic: marks the code used and checks its grant still exists, in one step. */
  consumeCode(grantId: string, digest: string): Promise<ConsumeCodeResult>;

  // refresh tokens (rotated)
  /**
   * Each grant keeps at most MAX_REFRESH_PER_GRANT tokens (live or rotated,
   * the latter kept to recognise a replay): saving one more forgets the one
   * that expires first.
   */
  saveRefresh(digest: string, token: RefreshToken): Promise<void>;
  /** Live or already-rotated (then `rotatedAt` is set) token; null when unknown, expired or revoked. */
  getRefresh(grantId: string, digest: string): Promise<RefreshToken | null>;
  /**
   * The refresh token and the account it was issued to, for a refresh. The
   * Redis store reads both in one round trip once it knows the grant's JID
   * (a grant never changes hands, so that is remembered for good).
   */
  getRefreshAndAccount(grantId: string, digest: string): Promise<{ refresh: RefreshToken | null; account: Account | null }>;
  /**
   * The account behind a grant, without a round trip, when the store holds
   * it: the memory store always; the Redis store from the copy its last
   * refresh read left, while the revocation feed vouches for it (account
   * removal, disabling and upstream linking are news there). Otherwise null.
   */
  knownAccountOfGrant(grantId: string): Account | null;
  /** Atomically retires `oldDigest` and stores `next`; a second rotation of the same token revokes the grant. */
  /** Also marks the grant used (lastUsedAt), in the same atomic step. */
  rotateRefresh(grantId: string, oldDigest: string, newDigest: string, next: RefreshToken): Promise<RotateRefreshResult>;
  /**
   * A refresh in one step, for when nothing about the token needs reading
   * first: the token must be live and `clientId`'s ('other-client' changes
   * nothing; expired or unknown is 'missing'); it is rotated as by
   * rotateRefresh, and its successor has the same grant, client, JID and
   * scope with the given lifetime. `previous` is the old token.
   */
  rotateRefreshAs(
    grantId: string,
    oldDigest: string,
    newDigest: string,
    clientId: string,
    lifetime: { issuedAt: number; expiresAt: number },
  ): Promise<RotateRefreshAsResult>;

  // device authorization grants
  /** false when the user code is taken by a live grant (caller draws another). */
  createDevice(device: DeviceGrant, deviceDigest: string): Promise<boolean>;
  findDeviceByUserCode(userCode: string): Promise<DeviceGrant | null>;
  /** Approve or deny a pending grant; false when it is gone or already decided. */
  decideDevice(userCode: string, decision: { status: 'approved'; jid: string; grantId: string; authTime: number; amr?: string[] } | { status: 'denied' }): Promise<boolean>;
  /** A poll by `clientId`; a poll by any other client reads as `wrong_client` and changes nothing. */
  pollDevice(id: string, deviceDigest: string, now: number, clientId: string): Promise<PollDeviceResult>;

  // login sessions
  saveSession(session: LoginSession): Promise<void>;
  /**
   * The session, if it is live and its account still exists with the epoch
   * the session carries; null otherwise (a stale session is deleted).
   */
  getSession(id: string): Promise<LoginSession | null>;
  deleteSession(id: string): Promise<void>;

  // throttling
  rateLimiter(rule: RateLimitRule): RateLimiter;

  /** Round trip to the backend; throws when it is unreachable. Returns latency in ms. */
  ping(): Promise<number>;
  close(): Promise<void>;
}
