// Second factors of an account (issue 26): the TOTP secret (sealed by the
// caller, never in clear here), its recovery codes (digests only), the last
// TOTP time step used, and where the account's main password may be used.
// Kept apart from the account record so this domain grows without touching it.

/** Where the main password of an account works: everywhere, or on the web sign-in only. */
export type PasswordLogins = 'anywhere' | 'app_passwords_only';

export interface TotpFactor {
  /** The shared secret, encrypted by the caller (src/accounts/second-factor/secret-box.ts). */
  sealedSecret: string;
  addedAt: number;
}

export interface SecondFactorRecord {
  /**
   * `createdAt` of the account the record was written for: a record left
   * behind by a removed account never applies to a new one of the same JID.
   */
  accountCreatedAt: number;
  totp?: TotpFactor;
  /** Recovery codes left unused. */
  recoveryCodesLeft: number;
  /** Absent: the server default. */
  passwordLogins?: PasswordLogins;
}

export interface SecondFactorStore {
  get(jid: string): Promise<SecondFactorRecord | null>;
  /** Only what a password login needs (one light command): the record's account and its password logins; null without a record. */
  passwordLogins(jid: string): Promise<Pick<SecondFactorRecord, 'accountCreatedAt' | 'passwordLogins'> | null>;
  /** Sets the TOTP factor and replaces the recovery codes with `recoveryDigests`. */
  enrolTotp(jid: string, accountCreatedAt: number, totp: TotpFactor, recoveryDigests: string[]): Promise<void>;
  /**
   * Replaces the recovery codes of the account's TOTP, leaving the factor and
   * its last used step alone (a code just used stays used); false, and
   * nothing written, without TOTP or for another account (`accountCreatedAt`).
   */
  replaceRecoveryCodes(jid: string, accountCreatedAt: number, recoveryDigests: string[]): Promise<boolean>;
  /** Removes TOTP and its recovery codes; false when there was none. */
  removeTotp(jid: string): Promise<boolean>;
  /**
   * Marks TOTP time step `step` used if it is later than the last one used,
   * atomically: true at most once per step, so a code is never accepted twice.
   */
  useTotpStep(jid: string, step: number): Promise<boolean>;
  /** Consumes one recovery code by digest, atomically: true at most once. */
  useRecoveryCode(jid: string, digest: string): Promise<boolean>;
  setPasswordLogins(jid: string, accountCreatedAt: number, value: PasswordLogins): Promise<void>;
  /** Drops everything (the record belonged to an earlier account of this JID). */
  forget(jid: string): Promise<void>;
}
