import { hmacSha256, randomToken } from '../util/crypto.js';
import { timingSafeEqual } from 'node:crypto';

/**
 * HMAC signing with a list of secrets: the first signs, all verify, so a
 * secret can be rotated without logging everyone out. Shared by every
 * instance through config (`cookie_secrets`).
 */
export class Signer {
  readonly secrets: string[];

  constructor(secrets: string[] | undefined) {
    this.secrets = secrets?.length ? secrets : [randomToken(32)];
  }

  sign(purpose: string, value: string): string {
    return mac(this.secrets[0]!, purpose, value);
  }

  verify(purpose: string, value: string, signature: string): boolean {
    const given = Buffer.from(signature);
    return this.secrets.some((s) => {
      const want = Buffer.from(mac(s, purpose, value));
      return want.length === given.length && timingSafeEqual(want, given);
    });
  }

  /** A self-contained signed blob `payload.expiry.mac` (for carrying a request through a form). */
  seal(purpose: string, data: unknown, ttlSeconds: number): string {
    const payload = Buffer.from(JSON.stringify(data)).toString('base64url');
    const exp = String(Math.floor(Date.now() / 1000) + ttlSeconds);
    return `${payload}.${exp}.${this.sign(purpose, `${payload}.${exp}`)}`;
  }

  unseal<T>(purpose: string, sealed: unknown): T | null {
    if (typeof sealed !== 'string' || sealed.length > 64 * 1024) return null;
    const [payload, exp, sig, extra] = sealed.split('.');
    if (!payload || !exp || !sig || extra !== undefined) return null;
    if (!this.verify(purpose, `${payload}.${exp}`, sig)) return null;
    if (Number(exp) < Date.now() / 1000) return null;
    try {
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as T;
    } catch {
      return null;
    }
  }
}

function mac(secret: string, purpose: string, value: string): string {
  return hmacSha256(secret, `${purpose}\u0000${value}`).toString('base64url');
}
