// The only place that knows Redis key names.
//
// Hash tags ({...}) pin keys that a single command or script touches together
// to one cluster slot:
//   {g:<grantId>}  the grant hash, its codes, its refresh tokens and their digests (sorted set by expiry)
//   {d:<id>}       a device grant
//   {u:<jid>}      a user's grant index (set of ids + clientId → grantId hash)
//   {acct}         all accounts and their list (create/remove touch both)
// Operations spanning two tags (revoke a grant, then unindex it) run as two
// commands, and readers tolerate the stale entries this can leave behind.
export class RedisKeys {
  /** Pub/sub channels are server-wide, whatever the database: the number goes into their names. */
  private readonly channelPrefix: string;

  constructor(
    readonly prefix = 'xo:',
    db = 0,
  ) {
    // Database 0 keeps the plain names, so instances of one deployment on
    // different releases keep hearing each other.
    this.channelPrefix = db ? `${prefix}db${db}:` : prefix;
  }

  account(jid: string): string {
    return `${this.prefix}{acct}:a:${jid}`;
  }
  accountList(): string {
    return `${this.prefix}{acct}:all`;
  }
  /** Upstream issuer + subject → jid; `subjectDigest` is a SHA-256 of both, so any bytes make a sane key. */
  subject(subjectDigest: string): string {
    return `${this.prefix}{acct}:sub:${subjectDigest}`;
  }
  logoutToken(digest: string): string {
    return `${this.prefix}ult:${digest}`;
  }
  upstreamState(id: string): string {
    return `${this.prefix}ups:${id}`;
  }

  /** Hash kid → JSON; a single key so "add only if empty" is one script. */
  signingKeys(): string {
    return `${this.prefix}keys`;
  }

  /** JSON ServerInfo: what the running server publishes for the extauth bridge. */
  deploymentSecret(name: string): string {
    return `${this.prefix}secret:${name}`;
  }

  serverInfo(): string {
    return `${this.prefix}server`;
  }

  /**
   * Pub/sub channel for GrantRevokedEvents. Channels ignore hash slots and the
   * database number; the prefix and the number keep deployments apart.
   */
  revocationChannel(): string {
    return `${this.channelPrefix}revoked`;
  }

  /** Pub/sub channel announcing throttle blocks (rate limits with localPeek), so peeks need no round trip. */
  blocksChannel(): string {
    return `${this.channelPrefix}blocked`;
  }

  grant(id: string): string {
    return `${this.prefix}{g:${id}}`;
  }
  grantRefreshSet(grantId: string): string {
    return `${this.prefix}{g:${grantId}}:rts`;
  }
  refresh(grantId: string, digest: string): string {
    return this.refreshPrefix(grantId) + digest;
  }
  /** Scripts append digests from the grant's set to this (same slot). */
  refreshPrefix(grantId: string): string {
    return `${this.prefix}{g:${grantId}}:rt:`;
  }

  userGrants(jid: string): string {
    return `${this.prefix}{u:${jid}}:grants`;
  }
  userClients(jid: string): string {
    return `${this.prefix}{u:${jid}}:clients`;
  }

  /** In its grant's slot, so redeeming checks the grant in the same script. */
  code(grantId: string, digest: string): string {
    return `${this.prefix}{g:${grantId}}:code:${digest}`;
  }

  device(id: string): string {
    return `${this.prefix}{d:${id}}`;
  }
  /** Looked up by user code alone, so it cannot share the device's slot. */
  userCode(userCode: string): string {
    return `${this.prefix}uc:${userCode}`;
  }

  /** An account's second factors (issue 26); its recovery codes are `<this>:rc`, in the same slot. */
  secondFactors(jid: string): string {
    return `${this.prefix}{mfa:${jid}}`;
  }

  /** An account's passkeys and WebAuthn user handle, one hash (issue 26). */
  passkeys(jid: string): string {
    return `${this.prefix}{pk:${jid}}`;
  }
  /** Credential id digest → jid, for sign-in without a user name; not in the account's slot. */
  passkeyOwner(idDigest: string): string {
    return `${this.prefix}pko:${idDigest}`;
  }
  /** One WebAuthn ceremony's challenge, taken once. */
  passkeyChallenge(id: string): string {
    return `${this.prefix}pkc:${id}`;
  }

  session(id: string): string {
    return `${this.prefix}sess:${id}`;
  }

  /** rate-limiter-flexible appends `:<key>` itself. */
  rateLimitPrefix(name: string): string {
    return `${this.prefix}rl:${name}`;
  }
}
