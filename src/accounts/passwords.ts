import { hash, verify, Algorithm } from '@node-rs/argon2';

// argon2id with the library's defaults (m=19 MiB, t=2, p=1: OWASP's baseline).
// @node-rs/argon2 runs on the libuv thread pool, so the event loop stays free.
const OPTIONS = { algorithm: Algorithm.Argon2id } as const;

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX_BYTES = 1024;

/** Why a password cannot be used, or null when it can. */
export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN) return `password must be at least ${PASSWORD_MIN} characters`;
  if (Buffer.byteLength(password) > PASSWORD_MAX_BYTES) return `password must be at most ${PASSWORD_MAX_BYTES} bytes`;
  if (/[\u0000-\u001f\u007f]/.test(password)) return 'password must not contain control characters';
  return null;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

// Verified against when the account does not exist, so a miss costs the same as a hit.
let dummyHash: Promise<string> | undefined;

/** Checks `password` against `stored`, or against a dummy hash when there is no account. */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  const target = stored ?? (await (dummyHash ??= hash('not a real password', OPTIONS)));
  if (Buffer.byteLength(password) > PASSWORD_MAX_BYTES) return false;
  try {
    const ok = await verify(target, password);
    return ok && stored !== undefined;
  } catch {
    return false; // malformed stored hash: treat as a failed login, never throw to a remote caller
  }
}
