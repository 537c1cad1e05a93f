import type { Account, Grant } from './types.js';

/**
 * A grant belongs to the account of its JID only if the account existed when
 * the grant was made: a grant left behind by an interrupted removal never
 * passes to the next owner of the JID.
 */
export function grantOfAccount(grant: Grant | null, account: Account | null, jid: string): boolean {
  return grant !== null && account !== null && grant.jid === jid && grant.createdAt >= account.createdAt;
}
