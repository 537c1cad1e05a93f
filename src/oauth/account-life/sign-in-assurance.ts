// THE answer to "what must this browser still show before it may go on?"
// (issue 26): nothing, a second factor, a factor's enrolment, or the whole
// sign-in again. Every web flow asks it (the login page, /account, the
// authorization endpoint's step-up, the device verification, an upstream
// sign-in), so they cannot drift apart. Pure: plain values in, a plain answer out.
import { acrRequirement, ACR_VALUES, isMultiFactor } from '../../accounts/second-factor/assurance.js';
import type { FactorKind } from '../../accounts/second-factor/factors.js';
import type { Config } from '../../config/schema.js';

export interface AssuranceInput {
  /** The account's second-factor kinds (factorKindsOf). */
  kinds: readonly FactorKind[];
  /** What the browser has shown: a session's, or a first factor's just shown; null when it has nothing. */
  signIn: { amr: readonly string[]; authTime: number } | null;
  /** The first factor was shown in this very request (it satisfies prompt=login and any max_age). */
  fresh: boolean;
  /** Unix seconds, fractions kept (max_age=0 is older than a session of this second). */
  now: number;
  policy: { mfaRequired: Config['mfa']['required']; recentSignIn: number };
  /** What an authorization request asks (OIDC Core 3.1.2.1); absent for flows that ask nothing. */
  request?: { acrValues?: string; maxAge?: number; promptLogin?: boolean };
}

export type SignInDue =
  | { due: 'nothing' }
  /** The full sign-in, password (or another first factor) first. */
  | { due: 'sign-in'; why: 'none' | 'prompt-login' | 'max-age' | 'not-recent' }
  | { due: 'second-factor'; kinds: FactorKind[] }
  | { due: 'enrol' }
  /** The request cannot be met (answered to the client as unmet_authentication_requirements). */
  | { due: 'unmet'; description: string };

/**
 * Whether a sign-in at `authTime` (seconds) is recent enough, at `now` (seconds),
 * for what needs one (`recent_sign_in`): completing a second step, and account
 * changes that add a lasting way in.
 */
export function signedInRecently(authTime: number, now: number, recentSignIn: number): boolean {
  return now - authTime <= recentSignIn;
}

export function signInDue(input: AssuranceInput): SignInDue {
  const { signIn, fresh, now, policy, request = {} } = input;
  if (!signIn) return { due: 'sign-in', why: 'none' };
  if (!fresh && request.promptLogin) return { due: 'sign-in', why: 'prompt-login' };
  if (!fresh && request.maxAge !== undefined && now - signIn.authTime > request.maxAge) return { due: 'sign-in', why: 'max-age' };
  const acr = acrRequirement(request.acrValues);
  if (acr === 'unknown') return { due: 'unmet', description: `acr_values names none of ${ACR_VALUES.join(', ')}` };
  if (isMultiFactor(signIn.amr)) return { due: 'nothing' };

  // A first factor just shown is followed by the account's factor, always
  // (mfa.required: none only stops offering new ones). An existing session of
  // one factor steps up only when two are wanted: asked for, or required.
  const wantsTwo = fresh || acr === 'mfa' || policy.mfaRequired === 'required';
  if (!wantsTwo) return { due: 'nothing' };
  const kinds = [...input.kinds];
  const step: SignInDue | null = kinds.length
    ? { due: 'second-factor', kinds }
    : policy.mfaRequired === 'required'
      ? { due: 'enrol' }
      : null;
  if (!step) return acr === 'mfa' ? { due: 'unmet', description: 'the account has no second factor' } : { due: 'nothing' };
  // A second step completes a sign-in only while its first factor is recent: an
  // old (perhaps stolen) session must not become a fresh two-factor one, nor
  // set a factor of its own up, by showing just the second half.
  if (!fresh && !signedInRecently(signIn.authTime, now, policy.recentSignIn)) return { due: 'sign-in', why: 'not-recent' };
  return step;
}
