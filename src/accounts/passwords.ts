import { availableParallelism } from 'node:os';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import pLimit from 'p-limit';

// argon2id with the library's defaults (m=19 MiB, t=2, p=1: OWASP's baseline).
// @node-rs/argon2 runs on the libuv thread pool, so the event loop stays free.
const OPTIONS = { algorithm: Algorithm.Argon2id } as const;

/**
 * The pool's four threads would otherwise hash on every core at once during
 * a burst of logins, and the OS would then take CPU from the event loop that
 * serves token requests: on two cores, unlimited hashing put the loop's p99
 * delay at ~33 ms, one hash at a time at ~20 ms (docs/performance.md). So
 * hashes leave one core free by default. Process-wide, as the pool is.
 */
export const defaultHashConcurrency = () => Math.max(1, availableParallelism() - 1);
let limit = pLimit(defaultHashConcurrency());

export function setHashConcurrency(n: number): void {
  if (n !== limit.concurrency) limit = pLimit(n);
}

/** Hashes running and waiting for a turn: a growing queue is a login burst (or an attack). */
export function hashQueue(): { running: number; waiting: number } {
  return { running: limit.activeCount, waiting: limit.pendingCount };
}

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
  return limit(() => hash(password, OPTIONS));
}

// Verified against when the account does not exist, so a miss costs the same as a hit.
let dummyHash: Promise<string> | undefined;

/** Checks `password` against `stored`, or against a dummy hash when there is no account. */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  const target = stored ?? (await (dummyHash ??= hash('not a real password', OPTIONS)));
  if (Buffer.byteLength(password) > PASSWORD_MAX_BYTES) return false;
  try {
    const ok = await limit(() => verify(target, password));
    return ok && stored !== undefined;
  } catch {
    return false; // malformed stored hash: treat as a failed login, never throw to a remote caller
  }
}
