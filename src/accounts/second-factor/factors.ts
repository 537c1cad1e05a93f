import type { Store } from '../../store/types.js';
import type { SecondFactorRecord } from '../../store/second-factor/types.js';

/**
 * The kinds of second factor the sign-in can ask for. The second step
 * (views/second-factor.hbs) offers one choice per kind the account has, and
 * a recovery code beside TOTP.
 */
export type FactorKind = 'totp' | 'passkey';

/**
 * The account's second-factor record, if it belongs to the account as it is
 * now; one left by an earlier account of the same JID is dropped.
 */
export async function secondFactorRecord(store: Store, jid: string): Promise<SecondFactorRecord | null> {
  const [account, record] = await Promise.all([store.getAccount(jid), store.secondFactors.get(jid)]);
  if (!record) return null;
  if (!account || record.accountCreatedAt !== account.createdAt) {
    await store.secondFactors.forget(jid);
    return null;
  }
  return record;
}

/**
 * THE answer to "which second factors does this account have?": the sign-in
 * asks for one when this list is not empty, `mfa.required` lets an account
 * finish signing in only when it is not, and /account shows it.
 * Another kind (passkeys) is added here, once, and gets a choice on the step page.
 */
export async function factorKindsOf(store: Store, jid: string): Promise<FactorKind[]> {
  // One round trip: the account once, both factor records beside it.
  const [account, record, passkeys] = await Promise.all([store.getAccount(jid), store.secondFactors.get(jid), store.passkeys.list(jid)]);
  const kinds: FactorKind[] = [];
  if (!account) return kinds;
  if (record && record.accountCreatedAt !== account.createdAt) await store.secondFactors.forget(jid);
  else if (record?.totp) kinds.push('totp');
  if (passkeys.some((p) => p.accountCreatedAt === account.createdAt)) kinds.push('passkey');
  return kinds;
}
