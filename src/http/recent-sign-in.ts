// Changes that plant a lasting way into the account (a second factor, a
// passkey, an app password, the password working everywhere again) need a
// recent sign-in, as GitHub's "sudo mode" does: a browser left signed in, or a
// stolen session cookie, must not be enough to keep access after the user
// signs out everywhere or changes the password.
import { signedInRecently } from '../oauth/account-life/sign-in-assurance.js';
import type { CoreDeps } from '../oauth/context.js';
import type { LoginSession } from '../store/types.js';

/** The account page's answer to a change refused for want of a recent sign-in: an error and a way to sign in again. */
export const RECENT_SIGN_IN_NEEDED = { error: 'account.reauth.needed', reauth: true } as const;

/**
 * True (and an info line) when `session` signed in longer ago than
 * `recent_sign_in` allows for `what`; the caller refuses the change.
 */
export function signInTooOld(core: Pick<CoreDeps, 'config' | 'log'>, session: LoginSession, what: string, nowMs = Date.now()): boolean {
  const now = Math.floor(nowMs / 1000);
  if (signedInRecently(session.authTime, now, core.config.recent_sign_in)) return false;
  core.log.info({ jid: session.jid, what, age: now - session.authTime }, 'account change refused: the sign-in is not recent enough');
  return true;
}
