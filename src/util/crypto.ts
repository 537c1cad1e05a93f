import { createHash, createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';

// One CSPRNG call per 4 KiB instead of one per token (~6 µs each), as Node's
// own randomUUID does; every byte is handed out once.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** URL-safe random string carrying `bytes` of entropy. */
export function randomToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError(`randomToken: ${bytes} bytes`);
  if (poolOffset + bytes > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    poolOffset = 0;
  }
  const token = pool.toString('base64url', poolOffset, poolOffset + bytes);
  pool.fill(0, poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return token;
}

export function sha256Hex(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

export function sha256B64url(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

export function hmacSha256(key: string | Buffer, value: string | Buffer): Buffer {
  return createHmac('sha256', key).update(value).digest();
}

/**
 * Whether `secret` hashes to `digestHex` (a `sha256:` config value without
 * its prefix). One hash of the presented secret, then a constant-time
 * compare of two 32-byte digests, so neither the secret's length nor a
 * prefix is revealed. The matcher is built once per configured digest.
 */
export function sha256Matcher(digestHex: string): (secret: string) => boolean {
  const expected = Buffer.from(digestHex, 'hex');
  if (expected.length !== 32 || expected.toString('hex') !== digestHex.toLowerCase()) return () => false;
  return (secret) => timingSafeEqual(createHash('sha256').update(secret).digest(), expected);
}

/** Constant-time comparison of two strings of possibly different length. */
export function safeEqual(a: string, b: string): boolean {
  // Compare digests so the length of the secret is not revealed either.
  return timingSafeEqual(sha256B64url(a), sha256B64url(b));
}
