// The login throttle's two budgets, by rule name. Accounts spends them on
// password checks; the XMPP login check spends the same budgets on app
// passwords (review #5), so the throttle means the same for every secret.
// The store hands out one limiter per rule, so both callers share counters.
import type { RateLimiter, Store } from '../store/types.js';

export interface ThrottleSettings {
  per_account: number;
  per_address: number;
  window: number;
}

export interface LoginLimiters {
  perAccount: RateLimiter;
  perAddress: RateLimiter;
}

export function loginLimiters(store: Store, throttle: ThrottleSettings): LoginLimiters {
  return {
    perAccount: store.rateLimiter({ name: 'login-account', points: throttle.per_account, duration: throttle.window }),
    perAddress: store.rateLimiter({ name: 'login-address', points: throttle.per_address, duration: throttle.window }),
  };
}

/**
 * The budgets second-factor codes spend: the account's is a budget of its own
 * (`second-factor-account`), which a right password does not clear (a right
 * password resets `login-account`); the address's is the login one.
 */
export function secondFactorLimiters(store: Store, throttle: ThrottleSettings): LoginLimiters {
  return {
    perAccount: store.rateLimiter({ name: 'second-factor-account', points: throttle.per_account, duration: throttle.window }),
    perAddress: store.rateLimiter({ name: 'login-address', points: throttle.per_address, duration: throttle.window }),
  };
}

export type Admission = { allowed: true; refund(): Promise<void> } | { allowed: false; retryAfterMs: number };

/**
 * Reserves one attempt on both budgets before a secret is checked (atomic, so
 * a concurrent burst gets at most the limit checked). `refund` gives it back
 * when the attempt turned out to be fine, or is counted elsewhere.
 */
export async function admitLogin(limiters: LoginLimiters, jid: string, address?: string): Promise<Admission> {
  const [acct, addr] = await Promise.all([limiters.perAccount.consume(jid), address ? limiters.perAddress.consume(address) : undefined]);
  const blocked = [acct, addr].filter((r) => r && !r.allowed);
  if (blocked.length) return { allowed: false, retryAfterMs: Math.max(...blocked.map((r) => r!.retryAfterMs)) };
  return {
    allowed: true,
    refund: async () => {
      await Promise.all([limiters.perAccount.refund(jid), address ? limiters.perAddress.refund(address) : undefined]);
    },
  };
}
