// Reads the accounts of a Prosody data directory (file storage: 0.12 and 13):
// DATA_DIR/<host>/accounts/<user>.dat, each a Lua table literal written by
// Prosody's serializer. The file is parsed as Lua syntax (luaparse) and only
// literal values are read: nothing in it is ever executed.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import luaparse from 'luaparse';
import type { ScramHash, ScramRecords } from '../store/types.js';
import type { SourceAccount, SourceProblem, SourceRead } from './types.js';

/** Prosody's path encoding (util.datamanager): every non-word byte as %xx. */
export function decodeProsodyName(encoded: string): string {
  return Buffer.from(encoded.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

/** Strings stay byte strings (one char per byte, as read): a salt may be any bytes. */
type LuaValue = string | number | boolean | LuaTable;
interface LuaTable {
  [key: string]: LuaValue;
}

/** The table a .dat file returns (read as latin1: a char per byte), as plain data; throws on anything but literals. */
export function parseDatFile(text: string): LuaTable {
  const chunk = luaparse.parse(text, { luaVersion: '5.3', encodingMode: 'pseudo-latin1', comments: false, scope: false });
  const [statement] = chunk.body;
  if (chunk.body.length !== 1 || statement?.type !== 'ReturnStatement' || statement.arguments.length !== 1) {
    throw new Error('not a Prosody data file (expected one `return { ... }`)');
  }
  return literalTable(statement.arguments[0]!);
}

function literalTable(node: luaparse.Expression): LuaTable {
  if (node.type !== 'TableConstructorExpression') throw new Error(`expected a table, found ${node.type}`);
  const out: LuaTable = {};
  for (const field of node.fields) {
    let key: string;
    if (field.type === 'TableKeyString') key = field.key.name;
    else if (field.type === 'TableKey' && field.key.type === 'StringLiteral') key = field.key.value ?? '';
    else throw new Error('only string keys are expected in an account record');
    out[key] = literal(field.value);
  }
  return out;
}

function literal(node: luaparse.Expression): LuaValue {
  switch (node.type) {
    case 'StringLiteral':
      return node.value ?? '';
    case 'NumericLiteral':
    case 'BooleanLiteral':
      return node.value;
    case 'UnaryExpression':
      if (node.operator === '-' && node.argument.type === 'NumericLiteral') return -node.argument.value;
      break;
    case 'TableConstructorExpression':
      return literalTable(node);
  }
  throw new Error(`unexpected ${node.type} in a data file`);
}

const bytes = (value: string) => Buffer.from(value, 'latin1');

const HEX = /^[0-9a-f]+$/i;

/**
 * An internal_hashed record: salt (used as is), iteration count, StoredKey and
 * ServerKey in hex. Which hash made it is not recorded (Prosody 13's
 * `password_hash` option); the key length says it: 20 bytes SHA-1, 32 SHA-256.
 */
export function scramFromProsody(record: LuaTable): ScramRecords | null {
  const { salt, iteration_count: iterations, stored_key: stored, server_key: server } = record;
  if (typeof salt !== 'string' || typeof iterations !== 'number' || typeof stored !== 'string' || typeof server !== 'string') return null;
  if (!HEX.test(stored) || !HEX.test(server) || stored.length !== server.length) return null;
  const hash: ScramHash | null = stored.length === 40 ? 'SHA-1' : stored.length === 64 ? 'SHA-256' : null;
  if (!hash) return null;
  return {
    [hash]: {
      salt: bytes(salt).toString('base64'),
      iterations,
      storedKey: Buffer.from(stored, 'hex').toString('base64'),
      serverKey: Buffer.from(server, 'hex').toString('base64'),
    },
  };
}

/** Every account of DATA_DIR, or of the hosts named. */
export async function readProsodyDataDir(dataDir: string, hosts: readonly string[] = []): Promise<SourceRead> {
  const accounts: SourceAccount[] = [];
  const problems: SourceProblem[] = [];
  const wanted = new Set(hosts.map((h) => h.toLowerCase()));
  const seenHosts = new Set<string>();
  for (const entry of await readdir(dataDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const host = decodeProsodyName(entry.name);
    if (wanted.size && !wanted.has(host.toLowerCase())) continue;
    const dir = join(dataDir, entry.name, 'accounts');
    if (!(await stat(dir).catch(() => null))?.isDirectory()) continue;
    seenHosts.add(host.toLowerCase());
    for (const file of (await readdir(dir)).sort()) {
      if (!file.endsWith('.dat')) continue;
      const origin = join(dir, file);
      const user = decodeProsodyName(file.slice(0, -'.dat'.length));
      let record: LuaTable;
      try {
        record = parseDatFile(await readFile(origin, 'latin1'));
      } catch (err) {
        problems.push({ origin, reason: `unreadable: ${(err as Error).message}` });
        continue;
      }
      const scram = scramFromProsody(record);
      const password = typeof record.password === 'string' ? bytes(record.password).toString('utf8') : undefined;
      if (!scram && password === undefined) {
        problems.push({ origin, reason: 'no password record (neither internal_hashed keys nor an internal_plain password)' });
        continue;
      }
      accounts.push({ user, host, origin, ...(scram ? { scram } : { password }), ...(record.disabled === true ? { disabled: true } : {}) });
    }
  }
  for (const host of wanted) if (!seenHosts.has(host)) problems.push({ origin: join(dataDir, host), reason: `no accounts directory for host ${host}` });
  return { accounts, problems };
}
