// Reads accounts from XEP-0227 (Portable Import/Export Format) files, as
// Prosody's migrator (mod_storage_xep0227) and ejabberd's export_piefxis write
// them: <server-data xmlns='urn:xmpp:pie:0'><host jid=…><user name=… password=…>
// with <scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'>.
import { readFile } from 'node:fs/promises';
import xml from '@xmpp/xml';
import type { ScramHash, ScramRecords } from '../store/types.js';
import type { SourceAccount, SourceProblem, SourceRead } from './types.js';

const NS_PIE = 'urn:xmpp:pie:0';
const NS_SCRAM = 'urn:xmpp:pie:0#scram';
const MECHANISMS: Record<string, ScramHash> = { 'SCRAM-SHA-1': 'SHA-1', 'SCRAM-SHA-256': 'SHA-256' };

type Element = InstanceType<typeof xml.Element>;

/** The whole document (a file of a few thousand users is a few MB), parsed by @xmpp/xml's parser. */
function parseDocument(text: string): Element {
  const parser = new xml.Parser();
  let root: Element | undefined;
  let error: Error | undefined;
  let ended = false;
  // The parser streams: the root's start, each child whole, then the end.
  parser.on('start', (el: Element) => (root = el));
  parser.on('element', (el: Element) => root?.append(el));
  parser.on('end', () => (ended = true));
  parser.on('error', (err: Error) => (error ??= err));
  parser.write(text.replace(/^\uFEFF?\s*<\?xml[^?]*\?>/, ''));
  if (error) throw new Error(`not well-formed XML: ${error.message}`);
  if (!root) throw new Error('no XML element found');
  if (!ended) throw new Error(`the document ends before </${root.name}> (truncated?)`);
  return root;
}

function scramOf(user: Element, problems: SourceProblem[], origin: string): ScramRecords | undefined {
  const out: ScramRecords = {};
  for (const cred of user.getChildren('scram-credentials', NS_SCRAM)) {
    const hash = MECHANISMS[cred.attrs.mechanism as string];
    if (!hash) {
      problems.push({ origin, reason: `skipped SCRAM credentials for ${String(cred.attrs.mechanism)} (only SCRAM-SHA-1 and SCRAM-SHA-256 are used)` });
      continue;
    }
    const text = (name: string) => (cred.getChildText(name) ?? '').trim();
    const iterations = Number(text('iter-count'));
    out[hash] = { salt: text('salt'), iterations, storedKey: text('stored-key'), serverKey: text('server-key') };
  }
  return Object.keys(out).length ? out : undefined;
}

export async function readXep0227File(path: string): Promise<SourceRead> {
  const accounts: SourceAccount[] = [];
  const problems: SourceProblem[] = [];
  let root: Element;
  try {
    root = parseDocument(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  if (root.name !== 'server-data' || root.attrs.xmlns !== NS_PIE) {
    throw new Error(`${path}: not a XEP-0227 file (the root must be <server-data xmlns='${NS_PIE}'>)`);
  }
  for (const hostEl of root.getChildren('host')) {
    const host = String(hostEl.attrs.jid ?? '');
    for (const userEl of hostEl.getChildren('user')) {
      const user = String(userEl.attrs.name ?? '');
      const origin = `${path} (${user}@${host})`;
      if (!host || !user) {
        problems.push({ origin, reason: 'a <user/> without a name, or a <host/> without a jid' });
        continue;
      }
      const scram = scramOf(userEl, problems, origin);
      const password = typeof userEl.attrs.password === 'string' && userEl.attrs.password !== '' ? userEl.attrs.password : undefined;
      if (!scram && password === undefined) {
        problems.push({ origin, reason: 'no password record (neither SCRAM credentials nor a password attribute)' });
        continue;
      }
      accounts.push({ user, host, origin, ...(scram ? { scram } : { password }) });
    }
  }
  return { accounts, problems };
}
