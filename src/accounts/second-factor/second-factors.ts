import type { Logger } from '../../log.js';
import type { Store } from '../../store/types.js';
import { admitLogin, secondFactorLimiters, type LoginLimiters, type ThrottleSettings } from '../login-throttle.js';
import { factorKindsOf, secondFactorRecord, type FactorKind } from './factors.js';
import { newRecoveryCodes, recoveryCodeDigest } from './recovery-codes.js';
import { SecretBox } from './secret-box.js';
import { newTotpSecret, totpStep, totpUri } from './totp.js';
import type { PasswordLogins } from '../../store/second-factor/types.js';

export type SecondFactorMethod = 'totp' | 'recovery';

export type SecondFactorCheck =
  /** `amr`: the RFC 8176 method the factor adds to the sign-in. */
  | { ok: true; amr: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterMs: number };

export interface SecondFactorSettings {
  throttle: ThrottleSettings;
  /** The name authenticator apps show beside the account (the site name). */
  issuer: string;
  /** Told of each factor change and recovery-code use (the composition root records them: recordFactorChange). */
  onChange?: (jid: string, change: FactorChange) => void;
}

export type FactorChange =
  | { kind: 'factor-added' | 'factor-removed'; factor: 'totp' | 'recovery-codes' }
  /** A recovery code signed in (one fewer left): the sign-in's record says so, not "a one-time code". */
  | { kind: 'factor-used'; factor: 'recovery-code' };

/**
 * TOTP enrolment and removal, recovery codes, and the check of a second
 * factor at sign-in. A code is a guess like a password: it spends a point of
 * the account's second-factor budget and of the address's login budget. The
 * account's budget is its own, not the password's: a right password clears
 * the password's budget, and someone who knows the password could otherwise
 * refill the code budget at will. Only an accepted factor clears it.
 * A TOTP code is taken once: its time step is recorded atomically.
 */
export class SecondFactors {
  private readonly limiters: LoginLimiters;
  private box?: Promise<SecretBox>;

  constructor(
    private readonly store: Store,
    private readonly settings: SecondFactorSettings,
    private readonly log: Logger,
  ) {
    this.limiters = secondFactorLimiters(store, settings.throttle);
  }

  kinds(jid: string): Promise<FactorKind[]> {
    return factorKindsOf(this.store, jid);
  }

  async hasTotp(jid: string): Promise<boolean> {
    return Boolean((await secondFactorRecord(this.store, jid))?.totp);
  }

  /** What /account shows: since when TOTP is on, recovery codes left, where the password works. */
  async status(jid: string, serverDefault: PasswordLogins) {
    const record = await secondFactorRecord(this.store, jid);
    return {
      totpSince: record?.totp?.addedAt,
      recoveryCodesLeft: record?.totp ? record.recoveryCodesLeft : 0,
      passwordLogins: record?.passwordLogins ?? serverDefault,
    };
  }

  /** A new TOTP secret (base32); nothing is stored until a first code confirms it. */
  newTotpSecret(): string {
    return newTotpSecret();
  }

  /** The otpauth:// URI of `secret` for this account, for the QR code. */
  totpUri(jid: string, secret: string): string {
    return totpUri(secret, jid, this.settings.issuer);
  }

  /**
   * Turns TOTP on with `secret` once `code` shows the app has it; returns the
   * new recovery codes (shown once), or null when the code is wrong.
   */
  async confirmTotp(jid: string, secret: string, code: string, address?: string): Promise<{ ok: true; recoveryCodes: string[] } | Exclude<SecondFactorCheck, { ok: true }>> {
    const admission = await admitLogin(this.limiters, jid, address);
    if (!admission.allowed) return { ok: false, reason: 'throttled', retryAfterMs: admission.retryAfterMs };
    const account = await this.store.getAccount(jid);
    const step = /^[A-Z2-7]{32}$/.test(secret) ? totpStep(secret, code) : null;
    if (!account || step === null) {
      this.log.info({ jid, address }, 'totp enrolment refused: wrong code');
      return { ok: false, reason: 'invalid' };
    }
    await admission.refund();
    const recoveryCodes = newRecoveryCodes();
    const sealedSecret = (await this.secretBox()).seal(secret, jid);
    await this.store.secondFactors.enrolTotp(jid, account.createdAt, { sealedSecret, addedAt: Date.now() }, recoveryCodes.map((c) => recoveryCodeDigest(c)!));
    // The confirming code is spent: it cannot sign in a second time.
    await this.store.secondFactors.useTotpStep(jid, step);
    this.log.info({ jid }, 'totp enrolled');
    this.settings.onChange?.(jid, { kind: 'factor-added', factor: 'totp' });
    return { ok: true, recoveryCodes };
  }

  async removeTotp(jid: string): Promise<boolean> {
    const removed = await this.store.secondFactors.removeTotp(jid);
    if (removed) {
      this.log.info({ jid }, 'totp removed');
      this.settings.onChange?.(jid, { kind: 'factor-removed', factor: 'totp' });
    }
    return removed;
  }

  /** A fresh set of recovery codes replacing the old ones; null without TOTP. */
  async newRecoveryCodes(jid: string): Promise<string[] | null> {
    const account = await this.store.getAccount(jid);
    if (!account) return null;
    const codes = newRecoveryCodes();
    // Not a re-enrolment: the TOTP step used last stays used, so a code just typed cannot sign in again.
    if (!(await this.store.secondFactors.replaceRecoveryCodes(jid, account.createdAt, codes.map((c) => recoveryCodeDigest(c)!)))) return null;
    this.log.info({ jid }, 'recovery codes replaced');
    this.settings.onChange?.(jid, { kind: 'factor-added', factor: 'recovery-codes' });
    return codes;
  }

  /** Checks a second factor of `jid` (after its password, or for a step-up). */
  async check(jid: string, method: SecondFactorMethod, code: string, address?: string): Promise<SecondFactorCheck> {
    const admission = await admitLogin(this.limiters, jid, address);
    if (!admission.allowed) {
      this.log.info({ jid, address, method, retryAfterMs: admission.retryAfterMs }, 'second factor refused: throttled');
      return { ok: false, reason: 'throttled', retryAfterMs: admission.retryAfterMs };
    }
    const record = await secondFactorRecord(this.store, jid);
    let why = 'no such factor';
    if (record?.totp && method === 'totp') {
      const secret = (await this.secretBox()).open(record.totp.sealedSecret, jid);
      const step = secret ? totpStep(secret, code) : null;
      if (step !== null && (await this.store.secondFactors.useTotpStep(jid, step))) return this.accepted(jid, method, address);
      why = step === null ? 'wrong code' : 'code already used';
    } else if (record?.totp && method === 'recovery') {
      const digest = recoveryCodeDigest(code);
      if (digest && (await this.store.secondFactors.useRecoveryCode(jid, digest))) {
        const left = (await this.store.secondFactors.get(jid))?.recoveryCodesLeft;
        this.log.info({ jid, left }, 'recovery code used');
        this.settings.onChange?.(jid, { kind: 'factor-used', factor: 'recovery-code' });
        return this.accepted(jid, method, address);
      }
      why = 'wrong or used recovery code';
    }
    this.log.info({ jid, address, method }, `second factor refused: ${why}`);
    return { ok: false, reason: 'invalid' };
  }

  async setPasswordLogins(jid: string, value: PasswordLogins): Promise<boolean> {
    const account = await this.store.getAccount(jid);
    if (!account) return false;
    await this.store.secondFactors.setPasswordLogins(jid, account.createdAt, value);
    // Chat sessions the main password opened end on every attached server, as after a password
    // change: the switch is meant to close the door, not only to stop new logins through it.
    // (FAST tokens minted after a password login die with it: credentialAlive reads the setting.)
    if (value === 'app_passwords_only') await this.store.announcePasswordChanged(jid);
    this.log.info({ jid, passwordLogins: value }, 'password logins set');
    return true;
  }

  private async accepted(jid: string, method: SecondFactorMethod, address?: string): Promise<SecondFactorCheck> {
    // The account's wrong codes are forgiven; the address gets this attempt back.
    await Promise.all([this.limiters.perAccount.reset(jid), address ? this.limiters.perAddress.refund(address) : undefined]);
    this.log.info({ jid, method }, 'second factor accepted');
    // RFC 8176 has no value of its own for a recovery code: it is a one-time password.
    return { ok: true, amr: 'otp' };
  }

  private secretBox(): Promise<SecretBox> {
    // Read once per process: the deployment secret never changes once made.
    // A failed read (a Redis blip) is not kept: the next call asks again.
    return (this.box ??= this.store.deploymentSecret('totp-key').then(
      (s) => new SecretBox(Buffer.from(s, 'base64'), 'totp secret'),
      (err: unknown) => {
        this.box = undefined;
        throw err;
      },
    ));
  }
}
