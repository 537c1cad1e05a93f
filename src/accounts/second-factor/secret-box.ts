import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encrypts small secrets at rest (a TOTP seed) with AES-256-GCM under a key
 * derived (HKDF-SHA256) from a deployment secret. The account's JID is the
 * associated data: a sealed secret copied onto another account does not open.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(deploymentSecret: Buffer, purpose: string) {
    this.key = Buffer.from(hkdfSync('sha256', deploymentSecret, Buffer.alloc(0), `xmpp-oauth ${purpose}`, 32));
  }

  seal(plain: string, jid: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(jid));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv, body, cipher.getAuthTag()].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  /** Null when the blob is not one of ours for this account (or was tampered with). */
  open(sealed: string, jid: string): string | null {
    const [v, iv, body, tag, extra] = sealed.split('.');
    if (v !== 'v1' || !iv || !body || !tag || extra !== undefined) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(jid));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }
}
