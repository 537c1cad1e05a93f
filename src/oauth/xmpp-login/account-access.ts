// What an XMPP session may do with its own account, from the scope it logged
// in with (issue 22 #2). The XMPP server's module enforces the same levels
// (access.lib.lua); the component checks them again, so a bug in one layer
// does not open the door.
import { isRestrictedXmppLogin } from '../scopes.js';

/**
 * `full`: a normal session (or a password login): everything its account may do.
 * `write`: restricted, `xmpp:account:write`: list and revoke clients, change the password.
 * `read`: restricted, `xmpp:account:read` only: list clients, nothing else.
 */
export type AccountAccess = 'full' | 'write' | 'read';

export function accountAccessOf(scope: readonly string[]): AccountAccess {
  if (!isRestrictedXmppLogin(scope)) return 'full';
  return scope.includes('xmpp:account:write') ? 'write' : 'read';
}

const RANK: Record<AccountAccess, number> = { read: 0, write: 1, full: 2 };

/** The narrower of two levels (two sources that should agree, and the safe answer if not). */
export const narrower = (a: AccountAccess, b: AccountAccess): AccountAccess => (RANK[a] <= RANK[b] ? a : b);

export const mayRevoke = (access: AccountAccess): boolean => access !== 'read';
