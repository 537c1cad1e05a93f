// An administrator's switch for an account: disabled, it cannot log in by
// any door (password, app password, token, upstream sign-in), and every grant
// it had, app passwords included, is revoked through grant management.
import { normaliseJid } from '../../accounts/jid.js';
import type { CoreDeps } from '../context.js';
import { revokeAllGrantsOf } from '../grants/grant-management.js';
import { recordSecurityEvent } from './security-events.js';

export type DisableResult = { ok: true; revoked: number } | { ok: false; reason: 'bad-jid' | 'missing' };

export async function disableAccount(deps: Pick<CoreDeps, 'store' | 'log'>, jidInput: string, by: string): Promise<DisableResult> {
  const jid = normaliseJid(jidInput);
  if (!jid) return { ok: false, reason: 'bad-jid' };
  // Flag first: no new grant can be made between the revocations and the flag.
  if (!(await deps.store.setAccountDisabled(jid, true))) return { ok: false, reason: 'missing' };
  const revoked = (await revokeAllGrantsOf(deps, jid, by)).length;
  deps.log.info({ jid, by, revoked }, 'account disabled');
  void recordSecurityEvent(deps, jid, { kind: 'account-disabled', by });
  return { ok: true, revoked };
}

/** Lets the account log in again; revoked grants stay revoked. */
export async function enableAccount(deps: Pick<CoreDeps, 'store' | 'log'>, jidInput: string, by: string): Promise<DisableResult> {
  const jid = normaliseJid(jidInput);
  if (!jid) return { ok: false, reason: 'bad-jid' };
  if (!(await deps.store.setAccountDisabled(jid, false))) return { ok: false, reason: 'missing' };
  deps.log.info({ jid, by }, 'account enabled');
  void recordSecurityEvent(deps, jid, { kind: 'account-enabled', by });
  return { ok: true, revoked: 0 };
}
