import { Secret, TOTP } from 'otpauth';

// RFC 6238 with the parameters every authenticator app understands
// (SHA-1, 6 digits, 30 s); a window of one step either side forgives clock drift.
const PERIOD = 30;
const WINDOW = 1;

/** A fresh 160-bit secret, base32 (what the app is given). */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totp(secretBase32: string, label = '', issuer = ''): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secretBase32) });
}

/** The otpauth:// URI an authenticator app reads from the QR code. */
export function totpUri(secretBase32: string, account: string, issuer: string): string {
  return totp(secretBase32, account, issuer).toString();
}

/** A code as typed: digits only (people paste "123 456"). */
export function normaliseTotpCode(code: string): string | null {
  const digits = code.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(digits) ? digits : null;
}

/**
 * The time step `code` belongs to, or null when it matches none within the
 * window. The caller records the step so the same code is never taken twice.
 */
export function totpStep(secretBase32: string, code: string, now = Date.now()): number | null {
  const digits = normaliseTotpCode(code);
  if (!digits) return null;
  const delta = totp(secretBase32).validate({ token: digits, timestamp: now, window: WINDOW });
  return delta === null ? null : Math.floor(now / 1000 / PERIOD) + delta;
}

/** For tests and the docs: the code of `now`. */
export function totpCode(secretBase32: string, now = Date.now()): string {
  return totp(secretBase32).generate({ timestamp: now });
}

export const TOTP_PERIOD_SECONDS = PERIOD;
