import type { PasswordLogins, SecondFactorRecord, SecondFactorStore, TotpFactor } from './types.js';

interface Entry {
  accountCreatedAt: number;
  totp?: TotpFactor;
  lastStep: number;
  recovery: Set<string>;
  passwordLogins?: PasswordLogins;
}

/** The in-process second-factor store: each operation is one synchronous step, so atomic. */
export class MemorySecondFactorStore implements SecondFactorStore {
  private readonly entries = new Map<string, Entry>();

  private entry(jid: string, accountCreatedAt: number): Entry {
    let e = this.entries.get(jid);
    if (!e || e.accountCreatedAt !== accountCreatedAt) {
      e = { accountCreatedAt, lastStep: -1, recovery: new Set() };
      this.entries.set(jid, e);
    }
    return e;
  }

  async get(jid: string): Promise<SecondFactorRecord | null> {
    const e = this.entries.get(jid);
    if (!e) return null;
    return { accountCreatedAt: e.accountCreatedAt, totp: e.totp && { ...e.totp }, recoveryCodesLeft: e.recovery.size, passwordLogins: e.passwordLogins };
  }

  async passwordLogins(jid: string): Promise<Pick<SecondFactorRecord, 'accountCreatedAt' | 'passwordLogins'> | null> {
    const e = this.entries.get(jid);
    return e ? { accountCreatedAt: e.accountCreatedAt, passwordLogins: e.passwordLogins } : null;
  }

  async enrolTotp(jid: string, accountCreatedAt: number, totp: TotpFactor, recoveryDigests: string[]): Promise<void> {
    const e = this.entry(jid, accountCreatedAt);
    Object.assign(e, { totp: { ...totp }, lastStep: -1, recovery: new Set(recoveryDigests) });
  }

  async replaceRecoveryCodes(jid: string, accountCreatedAt: number, recoveryDigests: string[]): Promise<boolean> {
    const e = this.entries.get(jid);
    if (!e?.totp || e.accountCreatedAt !== accountCreatedAt) return false;
    e.recovery = new Set(recoveryDigests);
    return true;
  }

  async removeTotp(jid: string): Promise<boolean> {
    const e = this.entries.get(jid);
    if (!e?.totp) return false;
    Object.assign(e, { totp: undefined, lastStep: -1, recovery: new Set() });
    return true;
  }

  async useTotpStep(jid: string, step: number): Promise<boolean> {
    const e = this.entries.get(jid);
    if (!e?.totp || step <= e.lastStep) return false;
    e.lastStep = step;
    return true;
  }

  async useRecoveryCode(jid: string, digest: string): Promise<boolean> {
    return this.entries.get(jid)?.recovery.delete(digest) ?? false;
  }

  async setPasswordLogins(jid: string, accountCreatedAt: number, value: PasswordLogins): Promise<void> {
    this.entry(jid, accountCreatedAt).passwordLogins = value;
  }

  async forget(jid: string): Promise<void> {
    this.entries.delete(jid);
  }
}
