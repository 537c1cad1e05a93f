// Brings accounts read from another server into ours: names normalised with the
// same nodeprep as every other door, collisions and refusals reported, SCRAM
// records kept as they are, plaintext passwords hashed. Idempotent: a second run
// finds every account 'unchanged'.
import { Accounts, AccountError, type ImportOutcome } from '../accounts/accounts.js';
import { parseBareJid } from '../accounts/jid.js';
import type { Logger } from '../log.js';
import { revokeAllGrantsOf } from '../oauth/grants/grant-management.js';
import type { Store } from '../store/types.js';
import type { SourceAccount, SourceProblem, SourceRead } from './types.js';

export interface ImportReport {
  created: string[];
  unchanged: string[];
  /** Exists here with other credentials: left as it is. */
  conflicts: string[];
  /** Could not be imported, with the reason. */
  refused: SourceProblem[];
}

export interface ImportOptions {
  /** The XMPP hosts this server serves (xmpp.hosts): accounts of other hosts are refused. */
  hosts: readonly string[];
  dryRun?: boolean;
  log: Logger;
}

export async function importAccounts(accounts: Accounts, store: Store, read: SourceRead, opts: ImportOptions): Promise<ImportReport> {
  const report: ImportReport = { created: [], unchanged: [], conflicts: [], refused: [...read.problems] };
  const served = new Set(opts.hosts.map((h) => h.toLowerCase()));
  const byJid = new Map<string, SourceAccount[]>();
  for (const account of read.accounts) {
    let jid: string;
    try {
      jid = parseBareJid(`${account.user}@${account.host}`).bare;
    } catch (err) {
      report.refused.push({ origin: account.origin, reason: `not a valid JID: ${(err as Error).message}` });
      continue;
    }
    if (!served.has(jid.slice(jid.lastIndexOf('@') + 1))) {
      report.refused.push({ origin: account.origin, reason: `${jid}: its host is not in xmpp.hosts` });
      continue;
    }
    byJid.set(jid, [...(byJid.get(jid) ?? []), account]);
  }
  for (const [jid, sources] of byJid) {
    // Two source names that normalise to one JID: which password is right is not ours to guess.
    if (sources.length > 1) {
      for (const s of sources) report.refused.push({ origin: s.origin, reason: `${jid}: collides with ${sources.length - 1} other name(s) after normalisation` });
      continue;
    }
    const source = sources[0]!;
    let outcome: ImportOutcome;
    try {
      outcome = source.scram
        ? await accounts.importScram(jid, source.scram, { dryRun: opts.dryRun })
        : await accounts.importPassword(jid, source.password!, { dryRun: opts.dryRun });
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      report.refused.push({ origin: source.origin, reason: err.message });
      continue;
    }
    if (outcome === 'created' && !opts.dryRun) {
      // As every account creation does: grants left under the JID by a former holder do not pass to this one.
      await revokeAllGrantsOf({ store, log: opts.log }, jid, 'import');
      if (source.disabled) await store.setAccountDisabled(jid, true);
    }
    (outcome === 'created' ? report.created : outcome === 'unchanged' ? report.unchanged : report.conflicts).push(jid);
  }
  return report;
}

/** The report as the command line prints it: counts first, then every name that needs a look. */
export function formatReport(report: ImportReport, dryRun: boolean): string {
  const lines = [
    `${dryRun ? 'would create' : 'created'}: ${report.created.length}`,
    `unchanged (imported before): ${report.unchanged.length}`,
    `kept as they are (exist here with other credentials): ${report.conflicts.length}`,
    `refused: ${report.refused.length}`,
  ];
  for (const jid of report.conflicts) lines.push(`  kept: ${jid}`);
  for (const p of report.refused) lines.push(`  refused: ${p.origin}: ${p.reason}`);
  return `${lines.join('\n')}\n`;
}
