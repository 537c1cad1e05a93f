import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../util/crypto.js';

// Ten codes of 60 random bits each in Crockford's base32 (no i, l, o, u; a
// typed o reads as 0, i and l as 1), shown once as xxxx-xxxx-xxxx; the store
// keeps their SHA-256 digests only.
const COUNT = 10;
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function newRecoveryCodes(): string[] {
  return Array.from({ length: COUNT }, () => {
    const bytes = randomBytes(12);
    const chars = [...bytes].map((b) => ALPHABET[b & 31]).join('');
    return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
  });
}

/** What a typed code is compared as: lower case, no spaces or dashes; null when it cannot be one. */
export function normaliseRecoveryCode(code: string): string | null {
  const plain = code.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
  return /^[0-9a-hjkmnp-tv-z]{12}$/.test(plain) ? plain : null;
}

export function recoveryCodeDigest(code: string): string | null {
  const plain = normaliseRecoveryCode(code);
  return plain === null ? null : sha256Hex(`recovery-code\u0000${plain}`);
}
