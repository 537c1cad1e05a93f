import type { Store } from '../../store/types.js';
import type { PasswordLogins, SecondFactorRecord } from '../../store/second-factor/types.js';

/**
 * Where an account's main password works. With `app_passwords_only`, only
 * the web sign-in (which can ask for a second factor) takes it; the XMPP
 * login (PLAIN, SCRAM), the password grant and the extauth bridge cannot ask
 * for one, so there they refuse it as if it were wrong, and chat clients use
 * app passwords or tokens. This closes the "XMPP bypasses 2FA" hole.
 */
export async function passwordLoginsOf(store: Store, account: { jid: string; createdAt: number }, serverDefault: PasswordLogins): Promise<PasswordLogins> {
  return effectivePasswordLogins(account, await store.secondFactors.passwordLogins(account.jid), serverDefault);
}

/**
 * The setting from a record read alongside the account (callers read both in
 * one round trip): a record of an earlier account of the JID does not count.
 */
export function effectivePasswordLogins(
  account: { createdAt: number },
  record: Pick<SecondFactorRecord, 'accountCreatedAt' | 'passwordLogins'> | null,
  serverDefault: PasswordLogins,
): PasswordLogins {
  const own = record && record.accountCreatedAt === account.createdAt ? record.passwordLogins : undefined;
  return own ?? serverDefault;
}

/** True when the main password of `account` may log in at a door other than the web sign-in. */
export async function mainPasswordWorksOutsideWeb(store: Store, account: { jid: string; createdAt: number }, serverDefault: PasswordLogins): Promise<boolean> {
  return (await passwordLoginsOf(store, account, serverDefault)) === 'anywhere';
}
