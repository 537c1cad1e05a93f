import type { Logger } from '../log.js';
import type { RateLimiter, Store } from '../store/types.js';
import { normaliseJid as normalise, parseBareJid } from './jid.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';

export interface ThrottleSettings {
  per_account: number;
  per_address: number;
  window: number;
}

export type VerifyResult =
  | { ok: true; jid: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterMs: number };

/**
 * New accounts only (the JID grammar allows 1023 bytes): with this bound and a
 * host name of sane length, an access token stays under the 900 bytes an XMPP
 * PLAIN password may carry.
 */
export const MAX_NEW_USER_BYTES = 64;

export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    message: string,
    readonly code: 'exists' | 'missing' | 'bad-jid' | 'bad-password' | 'refused',
  ) {
    super(message);
  }
}

/** Local XMPP accounts: bare JIDs with argon2id password hashes, throttled verification. */
export class Accounts {
  private readonly perAccount: RateLimiter;
  private readonly perAddress: RateLimiter;

  constructor(
    private readonly store: Store,
    throttle: ThrottleSettings,
    private readonly log: Logger,
  ) {
    this.perAccount = store.rateLimiter({ name: 'login-account', points: throttle.per_account, duration: throttle.window });
    this.perAddress = store.rateLimiter({ name: 'login-address', points: throttle.per_address, duration: throttle.window });
  }

  async create(jidInput: string, password: string): Promise<string> {
    const jid = this.jid(jidInput);
    if (Buffer.byteLength(jid.slice(0, jid.lastIndexOf('@'))) > MAX_NEW_USER_BYTES) {
      throw new AccountError(`user names are limited to ${MAX_NEW_USER_BYTES} bytes, so that access tokens fit in an XMPP password`, 'bad-jid');
    }
    this.checkPassword(password);
    const created = await this.store.createAccount({ jid, passwordHash: await hashPassword(password), createdAt: Date.now() });
    if (!created) throw new AccountError(`account ${jid} exists already`, 'exists');
    this.log.info({ jid }, 'account created');
    return jid;
  }

  async setPassword(jidInput: string, password: string): Promise<void> {
    const jid = this.jid(jidInput);
    this.checkPassword(password);
    const account = await this.store.getAccount(jid);
    if (account?.upstream && !account.passwordHash) {
      throw new AccountError(`${jid} signs in through ${account.upstream.provider}; it has no local password (use an app password)`, 'refused');
    }
    if (!(await this.store.setPasswordHash(jid, await hashPassword(password)))) {
      throw new AccountError(`no account ${jid}`, 'missing');
    }
    this.log.info({ jid }, 'password changed');
  }

  async remove(jidInput: string): Promise<void> {
    const jid = this.jid(jidInput);
    if (!(await this.store.removeAccount(jid))) throw new AccountError(`no account ${jid}`, 'missing');
    this.log.info({ jid }, 'account removed');
  }

  list(): Promise<string[]> {
    return this.store.listAccounts().then((l) => l.sort());
  }

  async exists(jidInput: string): Promise<boolean> {
    const jid = normalise(jidInput);
    return jid !== null && this.store.accountExists(jid);
  }

  /**
   * Checks a password. Takes the same time whether or not the account exists;
   * failures count against the account and, when known, the client address.
   */
  async verify(jidInput: string, password: string, address?: string): Promise<VerifyResult> {
    const jid = normalise(jidInput) ?? jidInput.slice(0, 3072);
    const [acct, addr] = await Promise.all([
      this.perAccount.peek(jid),
      address ? this.perAddress.peek(address) : undefined,
    ]);
    const blocked = [acct, addr].filter((r) => r && !r.allowed);
    if (blocked.length) {
      const retryAfterMs = Math.max(...blocked.map((r) => r!.retryAfterMs));
      this.log.info({ jid, address, retryAfterMs }, 'login refused: throttled');
      return { ok: false, reason: 'throttled', retryAfterMs };
    }
    const account = normalise(jidInput) ? await this.store.getAccount(jid) : null;
    // No local password (upstream-only) or disabled: the same dummy-hash work as an unknown account.
    const usable = account && !account.disabled && account.passwordHash ? account.passwordHash : undefined;
    const ok = (await verifyPassword(usable, password)) && usable !== undefined;
    if (ok) {
      await this.perAccount.reset(jid);
      return { ok: true, jid };
    }
    await Promise.all([this.perAccount.consume(jid), address ? this.perAddress.consume(address) : undefined]);
    this.log.info({ jid, address, known: Boolean(account) }, 'login failed');
    return { ok: false, reason: 'invalid' };
  }

  private jid(input: string): string {
    try {
      return parseBareJid(input).bare;
    } catch (err) {
      throw new AccountError((err as Error).message, 'bad-jid');
    }
  }

  private checkPassword(password: string): void {
    const problem = passwordProblem(password);
    if (problem) throw new AccountError(problem, 'bad-password');
  }
}
