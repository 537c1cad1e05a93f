import type { Logger } from '../log.js';
import type { Account, PasswordCredentials, ScramHash, ScramRecords, Store } from '../store/types.js';
import { randomToken } from '../util/crypto.js';
import { normaliseJid as normalise, parseBareJid } from './jid.js';
import { admitLogin, loginLimiters, type LoginLimiters, type ThrottleSettings } from './login-throttle.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';
import { effectivePasswordLogins } from './second-factor/password-doors.js';
import type { PasswordLogins } from '../store/second-factor/types.js';
import { decoyVerifier, isUsableVerifier, makeVerifier, normalisePassword, SCRAM_HASHES, strongestVerifier, verifierMatches, type ScramVerifier } from './scram.js';

export type { ThrottleSettings };

export interface ScramSettings {
  sha1_iterations: number;
  sha256_iterations: number;
}

const DEFAULT_SCRAM: ScramSettings = { sha1_iterations: 10000, sha256_iterations: 10000 };

export type ScramLookup =
  /** A real verifier, or a decoy that no password matches: the caller cannot tell, nor can the client. */
  | { ok: true; verifier: ScramVerifier }
  | { ok: false; reason: 'throttled'; retryAfterMs: number };

/** What an import of an existing account did (see Accounts.importScram). */
export type ImportOutcome = 'created' | 'unchanged' | 'conflict';

export type VerifyResult =
  /** `epoch`: the account's session epoch read with the hash, to bind a login session to. */
  | { ok: true; jid: string; epoch: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterMs: number };

/**
 * New accounts only (the JID grammar allows 1023 bytes): with this bound and a
 * host name of sane length, an access token stays under the 900 bytes an XMPP
 * PLAIN password may carry.
 */
export const MAX_NEW_USER_BYTES = 64;

/** A password of its own signs this account in (an argon2id hash, or an imported SCRAM record not yet completed). */
export function hasLocalPassword(account: Pick<Account, 'passwordHash' | 'scram'>): boolean {
  return Boolean(account.passwordHash) || strongestVerifier(account.scram) !== null;
}

/** Signs in only through its upstream provider: no local password to check or change. */
export function signsInOnlyUpstream(account: Pick<Account, 'passwordHash' | 'scram' | 'upstream'>): boolean {
  return Boolean(account.upstream) && !hasLocalPassword(account);
}

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
  private readonly limiters: LoginLimiters;
  private decoySecret?: Promise<Buffer>;

  constructor(
    private readonly store: Store,
    throttle: ThrottleSettings,
    private readonly log: Logger,
    private readonly scram: ScramSettings = DEFAULT_SCRAM,
    /** Server default of where a main password works (config password_logins); an account may choose. */
    private readonly passwordLogins: PasswordLogins = 'anywhere',
  ) {
    this.limiters = loginLimiters(store, throttle);
  }

  async create(jidInput: string, password: string): Promise<string> {
    const jid = this.jid(jidInput);
    if (Buffer.byteLength(jid.slice(0, jid.lastIndexOf('@'))) > MAX_NEW_USER_BYTES) {
      throw new AccountError(`user names are limited to ${MAX_NEW_USER_BYTES} bytes, so that access tokens fit in an XMPP password`, 'bad-jid');
    }
    this.checkPassword(password);
    // A fresh random epoch: sessions left from a previous owner of this JID never match it.
    const created = await this.store.createAccount({ jid, ...(await this.credentials(password)), createdAt: Date.now(), epoch: randomToken(12) });
    if (!created) throw new AccountError(`account ${jid} exists already`, 'exists');
    this.log.info({ jid }, 'account created');
    return jid;
  }

  /** Also ends every login session of the account (the store draws a new epoch). */
  async setPassword(jidInput: string, password: string): Promise<void> {
    const jid = this.jid(jidInput);
    this.checkPassword(password);
    const account = await this.store.getAccount(jid);
    if (account && signsInOnlyUpstream(account)) {
      throw new AccountError(`${jid} signs in through ${account.upstream!.provider}; it has no local password (use an app password)`, 'refused');
    }
    if (!(await this.store.setPasswordCredentials(jid, await this.credentials(password)))) {
      throw new AccountError(`no account ${jid}`, 'missing');
    }
    this.log.info({ jid }, 'password changed; login sessions ended');
  }

  /** Ends every login session of the account; returns the new epoch, or throws `missing`. */
  async endSessions(jidInput: string): Promise<string> {
    const jid = this.jid(jidInput);
    const epoch = await this.store.renewAccountEpoch(jid);
    if (epoch === null) throw new AccountError(`no account ${jid}`, 'missing');
    this.log.info({ jid }, 'login sessions ended');
    return epoch;
  }

  /**
   * Removes the account (its login sessions end with it). Its grants stay for
   * the caller to revoke through the grant-management core (src/oauth), which
   * announces each revocation: see removeAccount there.
   */
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
   *
   * Each attempt reserves a point on both counters *before* the hash (one
   * atomic increment each), so a concurrent burst gets at most the limit
   * checked; a success gives the points back. Peeking first and counting
   * after the hash let every request of a burst through (issue 12 #2).
   */
  async verify(jidInput: string, password: string, address?: string, opts: { outsideWeb?: boolean } = {}): Promise<VerifyResult> {
    const known = normalise(jidInput);
    const jid = known ?? jidInput.slice(0, 3072);
    // The account and where its password works are read in the same round trip as the reservation
    // (issues 25, 26); the throttle still decides first.
    const [admission, account, logins] = await Promise.all([
      admitLogin(this.limiters, jid, address),
      known ? this.store.getAccount(jid) : null,
      known && opts.outsideWeb ? this.store.secondFactors.passwordLogins(jid) : null,
    ]);
    if (!admission.allowed) {
      this.log.info({ jid, address, retryAfterMs: admission.retryAfterMs }, 'login refused: throttled');
      return { ok: false, reason: 'throttled', retryAfterMs: admission.retryAfterMs };
    }
    // Issue 26: an account whose main password works on the web sign-in only
    // (app_passwords_only) fails at any other door exactly as a wrong password
    // does; the password is not even checked there.
    const webOnly = Boolean(opts.outsideWeb && account && effectivePasswordLogins(account, logins, this.passwordLogins) !== 'anywhere');
    const ok = account !== null && !account.disabled && !webOnly && (await this.checkCredentials(account, password));
    if (ok) {
      await this.forgive(jid, address);
      return { ok: true, jid, epoch: account.epoch ?? '' };
    }
    // No argon2id hash to check (unknown, disabled, upstream-only, or only an imported SCRAM record, whose
    // PBKDF2 costs far less): the same dummy-hash work, so the time says nothing about the account.
    if (!account || account.disabled || !account.passwordHash || webOnly) await verifyPassword(undefined, password);
    this.log.info({ jid, address, known: Boolean(account), ...(webOnly ? { why: 'main password on the web sign-in only' } : {}) }, 'login failed');
    return { ok: false, reason: 'invalid' };
  }

  /**
   * The verifier the XMPP server runs a SCRAM exchange with (the password never
   * reaches us). Handing one out is a login attempt: it reserves a point of the
   * account and address budgets, and only scramSucceeded gives it back. An
   * unknown, disabled or password-less account, or one without this hash yet,
   * gets a decoy, stable per name: the exchange then fails at the proof, as a
   * wrong password does, and reveals nothing about which accounts exist.
   */
  async scramVerifier(jidInput: string, hash: ScramHash, address?: string): Promise<ScramLookup> {
    const known = normalise(jidInput);
    const jid = known ?? jidInput.slice(0, 3072);
    const [admission, account, logins] = await Promise.all([
      admitLogin(this.limiters, jid, address),
      known ? this.store.getAccount(jid) : null,
      known ? this.store.secondFactors.passwordLogins(jid) : null,
    ]);
    if (!admission.allowed) {
      this.log.info({ jid, address, retryAfterMs: admission.retryAfterMs, mechanism: `SCRAM-${hash}` }, 'login refused: throttled');
      return { ok: false, reason: 'throttled', retryAfterMs: admission.retryAfterMs };
    }
    const own = account && !account.disabled ? account.scram?.[hash] : undefined;
    // app_passwords_only (issue 26): fails at the proof like a wrong password.
    const webOnly = account !== null && effectivePasswordLogins(account, logins, this.passwordLogins) !== 'anywhere';
    if (isUsableVerifier(hash, own) && !webOnly) return { ok: true, verifier: own };
    // Read once per process: the secret never changes once made.
    const secret = await (this.decoySecret ??= this.store.deploymentSecret('scram-decoy').then((s) => Buffer.from(s, 'base64')));
    const decoy = decoyVerifier(secret, jid, hash, this.iterations(hash));
    // The account's own salt and iterations with keys no password matches: what goes on the wire
    // stays as it was, so an observer cannot tell that the account switched to app passwords only.
    if (isUsableVerifier(hash, own)) return { ok: true, verifier: { salt: own.salt, iterations: own.iterations, storedKey: decoy.storedKey, serverKey: decoy.serverKey } };
    return { ok: true, verifier: decoy };
  }

  /** The XMPP server says a SCRAM exchange succeeded: forgive the account's failures, give the address its point back. */
  async scramSucceeded(jidInput: string, address?: string): Promise<void> {
    const jid = normalise(jidInput);
    if (jid) await this.forgive(jid, address);
  }

  /** After a right secret: the account's failures are forgiven, the address gets this attempt back. */
  private async forgive(jid: string, address?: string): Promise<void> {
    await Promise.all([this.limiters.perAccount.reset(jid), address ? this.limiters.perAddress.refund(address) : undefined]);
  }

  private iterations(hash: ScramHash): number {
    return hash === 'SHA-1' ? this.scram.sha1_iterations : this.scram.sha256_iterations;
  }

  /**
   * Brings over an existing account with its SCRAM record as it is (an import from
   * Prosody or XEP-0227): no password is known, the first login checks against the
   * record and adds the rest. Running it again changes nothing.
   */
  async importScram(jidInput: string, scram: ScramRecords, opts: { dryRun?: boolean } = {}): Promise<ImportOutcome> {
    const jid = this.jid(jidInput);
    const usable: ScramRecords = {};
    for (const hash of SCRAM_HASHES) if (isUsableVerifier(hash, scram[hash])) usable[hash] = scram[hash];
    if (!strongestVerifier(usable)) throw new AccountError(`${jid}: no usable SCRAM record (key lengths, salt, or an iteration count outside 4096..1000000)`, 'bad-password');
    const created = opts.dryRun
      ? !(await this.store.accountExists(jid))
      : await this.store.createAccount({ jid, passwordHash: '', scram: usable, createdAt: Date.now(), epoch: randomToken(12) });
    if (created) return 'created';
    // Imported before: the same record (perhaps completed at a login since) is nothing to do; another is a collision.
    const existing = await this.store.getAccount(jid);
    const same = SCRAM_HASHES.some((h) => usable[h] && existing?.scram?.[h]?.storedKey === usable[h]!.storedKey);
    return same ? 'unchanged' : 'conflict';
  }

  /**
   * Brings over an account whose source kept a plaintext password (Prosody's
   * internal_plain, a XEP-0227 password attribute): it is hashed here and dropped.
   * The password policy is for new passwords, not for the ones people already have.
   */
  async importPassword(jidInput: string, password: string, opts: { dryRun?: boolean } = {}): Promise<ImportOutcome> {
    const jid = this.jid(jidInput);
    const existing = await this.store.getAccount(jid);
    if (existing) return (await this.matches(existing, password)) ? 'unchanged' : 'conflict';
    if (opts.dryRun) return 'created';
    const created = await this.store.createAccount({ jid, ...(await this.credentials(password)), createdAt: Date.now(), epoch: randomToken(12) });
    return created ? 'created' : 'conflict';
  }

  /**
   * argon2id and both SCRAM verifiers of one password, computed side by side. A
   * password SASLprep refuses (only an imported one can be such) gets argon2id alone.
   */
  private async credentials(password: string): Promise<PasswordCredentials> {
    const hashes = normalisePassword(password) === null ? [] : SCRAM_HASHES;
    const [passwordHash, ...made] = await Promise.all([hashPassword(password), ...hashes.map((h) => makeVerifier(h, password, this.iterations(h)))]);
    const scram: ScramRecords = {};
    hashes.forEach((h, i) => (scram[h] = made[i]));
    return hashes.length ? { passwordHash: passwordHash!, scram } : { passwordHash: passwordHash! };
  }

  /** Whether `password` is the account's, without completing any record. */
  private async matches(account: Account, password: string): Promise<boolean> {
    if (account.passwordHash) return verifyPassword(account.passwordHash, password);
    const strongest = strongestVerifier(account.scram);
    return strongest !== null && verifierMatches(strongest.hash, strongest.verifier, password);
  }

  /**
   * The password against the account's argon2id hash or, for an imported account
   * that has none yet, its strongest SCRAM verifier. A success fills in what is
   * missing (argon2id, SCRAM verifiers); nothing the account has is ever dropped,
   * since Conversations and Monal pin the mechanism they used last.
   */
  private async checkCredentials(account: Account, password: string): Promise<boolean> {
    if (!(await this.matches(account, password))) return false;
    // A password SASLprep refuses can have no verifier: nothing to add for it, ever.
    const missing = normalisePassword(password) === null ? [] : SCRAM_HASHES.filter((h) => !isUsableVerifier(h, account.scram?.[h]));
    // Once per account: the first login after an import (or after this feature came) pays for it.
    if (!account.passwordHash || missing.length > 0) {
      await this.complete(account, password, missing).catch((err: unknown) => {
        this.log.warn({ jid: account.jid, err: (err as Error).message }, 'could not add the missing password records after a login');
      });
    }
    return true;
  }

  private async complete(account: Account, password: string, missing: ScramHash[]): Promise<void> {
    const [passwordHash, ...made] = await Promise.all([
      account.passwordHash ? Promise.resolve(account.passwordHash) : hashPassword(password),
      ...missing.map((h) => makeVerifier(h, password, this.iterations(h))),
    ]);
    const scram: ScramRecords = { ...account.scram };
    missing.forEach((h, i) => (scram[h] = made[i]));
    const expected = { passwordHash: account.passwordHash, scram: account.scram };
    if (await this.store.upgradeCredentials(account.jid, expected, { passwordHash, scram })) {
      this.log.info({ jid: account.jid, added: [...(account.passwordHash ? [] : ['argon2id']), ...missing.map((h) => `SCRAM-${h}`)] }, 'password records completed after a login');
    }
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
    // SCRAM (RFC 5802) normalises with SASLprep: a new password it refuses could never log in that way.
    if (normalisePassword(password) === null) throw new AccountError('password has characters that SASLprep (RFC 4013) prohibits, so SCRAM logins could not use it', 'bad-password');
  }
}
