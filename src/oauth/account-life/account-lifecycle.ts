// What happens to an account's sessions and grants when its credentials
// change or it goes away. Shared by the CLI, the account page and the XMPP
// server's requests (setpass, removeuser), so every door behaves the same.
import { AccountError, type Accounts } from '../../accounts/accounts.js';
import { normaliseJid } from '../../accounts/jid.js';
import type { CoreDeps } from '../context.js';
import { revokeAllGrantsOf } from '../grants/grant-management.js';
import { recordSecurityEvent } from './security-events.js';

type Deps = Pick<CoreDeps, 'store' | 'log'> & { accounts: Accounts };

/**
 * Creates an account. Grants still indexed under the JID (left by a removal
 * that was interrupted) are revoked first, through the grant-management core:
 * the new owner starts with none of the old owner's applications.
 */
export async function createAccount(deps: Deps, jidInput: string, password: string, by: string): Promise<string> {
  const jid = await deps.accounts.create(jidInput, password);
  const leftovers = await revokeAllGrantsOf(deps, jid, by);
  if (leftovers.length) deps.log.warn({ jid, grants: leftovers.length }, 'grants left from a previous account of this JID revoked');
  // The new owner sees none of the old owner's activity either.
  await deps.store.activity.forget(jid);
  return jid;
}

/**
 * Removes the account: its login sessions end at once (the store drops the
 * account and with it the epoch every session is checked against), then every
 * grant is revoked through the grant-management core, so its tokens are
 * refused everywhere and each revocation is announced. Grants are revoked even
 * when the account is already gone (leftovers of an interrupted removal).
 * Throws AccountError `missing` when there was no account.
 */
export async function removeAccount(deps: Deps, jidInput: string, by: string): Promise<void> {
  const jid = normaliseJid(jidInput);
  if (!jid) throw new AccountError(`not a bare JID: ${jidInput.slice(0, 64)}`, 'bad-jid');
  let missing: AccountError | undefined;
  try {
    await deps.accounts.remove(jid);
  } catch (err) {
    if (!(err instanceof AccountError) || err.code !== 'missing') throw err;
    missing = err;
  }
  const revoked = await revokeAllGrantsOf(deps, jid, by);
  if (revoked.length) deps.log.info({ jid, grants: revoked.length, by }, 'grants of the removed account revoked');
  // Addresses and devices of a removed account are not kept for whoever takes the JID next.
  await deps.store.activity.forget(jid).catch((err: unknown) => deps.log.info({ jid, error: (err as Error).message }, 'activity of the removed account not dropped; it expires'));
  if (missing) throw missing;
}

/**
 * Sets a new password. Every login session of the account ends (also the one
 * asking: the caller re-binds it if it should survive). With `revokeGrants`,
 * every grant goes too, so applications must be approved again.
 */
export async function changePassword(
  deps: Deps,
  jidInput: string,
  password: string,
  opts: { revokeGrants: boolean; by: string; endPasswordSessions?: boolean },
): Promise<{ revokedGrants: number }> {
  const jid = normaliseJid(jidInput);
  if (!jid) throw new AccountError(`not a bare JID: ${jidInput.slice(0, 64)}`, 'bad-jid');
  await deps.accounts.setPassword(jid, password);
  void recordSecurityEvent(deps, jid, { kind: 'password-changed', by: opts.by });
  // Chat sessions that logged in with the old password end on every attached server (token and app-password sessions stay).
  if (opts.endPasswordSessions) await deps.store.announcePasswordChanged(jid);
  if (!opts.revokeGrants) return { revokedGrants: 0 };
  const revoked = await revokeAllGrantsOf(deps, jid, opts.by);
  return { revokedGrants: revoked.length };
}

/** Which live sessions of an account must end: all of them, or those opened with an app password. */
export interface SessionsEnded {
  jid: string;
  via?: 'app-password' | 'password';
  why: 'removed' | 'disabled' | 'upstream-logout' | 'password-changed';
}

/**
 * Hears, on every instance, when an account's live sessions must end: it was
 * removed or disabled (every session, whatever it logged in with), or its
 * upstream sign-in ended (sessions opened with an app password, which that
 * sign-in vouched for). Returns an unsubscribe function.
 */
export function onAccountSessionsEnded(deps: Pick<CoreDeps, 'store'>, listener: (event: SessionsEnded) => void): () => void {
  return deps.store.onAccountNews(({ jid, kind }) => {
    if (kind === 'removed' || kind === 'disabled') listener({ jid, why: kind });
    else if (kind === 'upstream-logout') listener({ jid, via: 'app-password', why: kind });
    else if (kind === 'password-changed') listener({ jid, via: 'password', why: kind });
  });
}
