// The XMPP path through a real Prosody (test/helpers/prosody.ts, our Lua
// module from contrib/prosody/), issue 25: c2s logins through our module
// beside the same Prosody deciding alone, one fresh c2s stream per login (TCP
// connect, stream, SASL), as a client sees it.
//
// Through our module (VirtualHost `localhost`, one query over the XEP-0114
// link per login; SCRAM two, the second sent without waiting):
//   - PLAIN with an access token as the password,
//   - PLAIN with an app password,
//   - OAUTHBEARER (RFC 7628) with the access token,
//   - SCRAM-SHA-1 and SCRAM-SHA-256 (one `<scram/>` query for the verifier),
//   - PLAIN with the account's password (an argon2id check in the component).
// Prosody alone, same process, same run:
//   - `internal_plain` (VirtualHost `plain.localhost`): PLAIN, the password
//     compared in Prosody, no hashing: the limit for the token and app-password
//     logins (issue 25),
//   - `internal_hashed` (VirtualHost `hashed.localhost`): SCRAM-SHA-1, the only
//     SCRAM it offers: the limit for ours.
// Every kind runs once per round, in turn, ROUNDS rounds, 1 and 16 at a time.
// Both Prosody hosts' accounts are made with `prosodyctl register`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import YAML from 'yaml';
import { pluginDirWithModule } from '../../test/helpers/prosody-module.js';
import { prosodyctlRegister } from '../../test/helpers/prosody-accounts.js';
import { startProsody, type ProsodyInstance, type ProsodyVersion } from '../../test/helpers/prosody.js';
import { oauthbearerMessage, rawSasl, type LoginTarget } from '../../test/helpers/xmpp-client.js';
import { DURATION, PASSWORD, ROOT, ROUNDS, combine, log, loop, markdown, percentile, type Row } from '../lib.js';
import { scramLogin } from '../scram.js';

export const COMPONENT = { domain: 'oauth.localhost', secret: 'bench-component-secret-0123456789' };
/** The VirtualHosts of the same Prosody on its own `internal_hashed` and `internal_plain` (no component). */
export const HASHED_HOST = 'hashed.localhost';
export const PLAIN_HOST = 'plain.localhost';

/** Prosody versions the XMPP comparison runs on: BENCH_PROSODY=0.12 (default), 13, or both. */
export function benchProsodyVersions(): ProsodyVersion[] {
  const v = process.env.BENCH_PROSODY ?? '0.12';
  if (v === 'both') return ['0.12', '13'];
  if (v === '0.12' || v === '13') return [v];
  throw new Error(`BENCH_PROSODY must be 0.12, 13 or both (got ${v})`);
}

/** A Prosody for the bench, or null (logged) when it cannot start here. */
export async function startBenchProsody(version: ProsodyVersion = '0.12'): Promise<ProsodyInstance | null> {
  const pluginDir = pluginDirWithModule();
  try {
    return await startProsody({
      version,
      components: [COMPONENT],
      pluginDir,
      // Our module offers SCRAM beside PLAIN only where the operator says so (read per host, set globally here).
      // Logging at info, as a production server does, not the test helper's debug file: debug lines
      // cost every host of the Prosody a few file writes per login (/dev/null: the bench reads none).
      extraConfig: [
        'xmpp_oauth_scram = { "SCRAM-SHA-1", "SCRAM-SHA-256" }',
        'log = { info = "/dev/null" }',
      ].join('\n'),
      virtualHosts: [
        { host: 'localhost', options: { authentication: 'xmpp_oauth', xmpp_oauth_component: COMPONENT.domain, xmpp_oauth_timeout: 5 } },
        { host: HASHED_HOST, options: { authentication: 'internal_hashed' } },
        { host: PLAIN_HOST, options: { authentication: 'internal_plain' } },
      ],
    });
  } catch (err) {
    log(`XMPP scenarios skipped: Prosody ${version} did not start (${(err as Error).message.split('\n')[0]})`);
    return null;
  }
}

/** The server's `xmpp` section for a link to that Prosody. */
export const xmppSection = (prosody: ProsodyInstance) => ({
  enabled: true,
  service: `xmpp://127.0.0.1:${prosody.componentPort}`,
  domain: COMPONENT.domain,
  secret: COMPONENT.secret,
  hosts: ['localhost'],
});

/** Waits until the server's /readyz says its component link is online. */
export async function linkOnline(url: string): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ready = (await fetch(`${url}/readyz`).then((r) => r.json(), () => null)) as { xmpp?: { online?: boolean } } | null;
    if (ready?.xmpp?.online) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** An app password of `jid`, made through the built core on the server's Redis (what /account does). */
export async function makeAppPassword(configFile: string, jid: string): Promise<string> {
  const { validate } = (await import(join(ROOT, 'dist/config/load.js'))) as { validate: (raw: Record<string, unknown>) => unknown };
  const { createApp } = (await import(join(ROOT, 'dist/app.js'))) as { createApp: (c: unknown, l: unknown) => Promise<{ core: unknown; stop(): Promise<void> }> };
  const { silentLogger } = (await import(join(ROOT, 'dist/log.js'))) as { silentLogger: unknown };
  const { createAppPassword } = (await import(join(ROOT, 'dist/oauth/account-life/app-passwords.js'))) as {
    createAppPassword: (deps: unknown, jid: string, opts: { label: string }) => Promise<{ password: string }>;
  };
  const raw = YAML.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  // Only the core: this copy must not take the component slot from the server.
  const app = await createApp(validate({ ...raw, xmpp: { enabled: false, hosts: ['localhost'] } }), silentLogger);
  try {
    return (await createAppPassword(app.core, jid, { label: 'bench' })).password;
  } finally {
    await app.stop();
  }
}

/** p50 of argon2id verifications with the server's parameters (the library's defaults), one at a time, in this process. */
async function argon2Median(n = 20): Promise<number> {
  const stored = await hash(PASSWORD, { algorithm: Algorithm.Argon2id });
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await verify(stored, PASSWORD);
    times.push(performance.now() - t);
  }
  return percentile(times.sort((a, b) => a - b), 50);
}

/** CPU seconds (user + system) a process has used so far, from /proc; NaN when unreadable. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid || !existsSync(`/proc/${pid}/stat`)) return Number.NaN;
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Prosody's pid, from the pidfile the test helper configures. */
function prosodyPid(prosody: ProsodyInstance): number | undefined {
  try {
    return Number(readFileSync(join(prosody.dir, 'prosody.pid'), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

export interface XmppComparison {
  rows: Row[];
  /** CPU per login of Prosody and of our server, by row (1 at a time: where the time goes). */
  cpu: Array<{ scenario: string; prosodyMs: number; serverMs: number }>;
  /** For ratioTable: each ratio of the mean throughputs, and each round's. */
  pairs: Array<{ label: string; ours: Row; theirs: Row; rounds: number[] }>;
  /** The password-login target: its p50 minus internal_plain's, against one argon2id verification. */
  passwordCost?: { loginP50: number; limitP50: number; argon2P50: number; tokenP50?: number };
}

interface Kind {
  key: string;
  label: string;
  op: () => Promise<boolean>;
}

/**
 * Every kind of login, 1 and 16 at a time, ROUNDS alternated rounds, with the
 * ratios issue 25 asks for. `user` is an account made through the server (both
 * verifiers, 10000 iterations, as internal_hashed writes); it is registered
 * with the same password on both Prosody-only hosts.
 */
export async function xmppLoginComparison(
  prosody: ProsodyInstance,
  secrets: { accessToken: string; appPassword?: string },
  serverPid?: number,
  user = 'alice',
): Promise<XmppComparison> {
  const pids = { prosody: prosodyPid(prosody), server: serverPid };
  const cpu: XmppComparison['cpu'] = [];
  for (const host of [HASHED_HOST, PLAIN_HOST]) {
    try {
      prosodyctlRegister(prosody, user, host, PASSWORD);
    } catch (err) {
      log(`${host} account not made (${(err as Error).message.split('\n')[0]}); its scenario is skipped`);
    }
  }
  const v = `Prosody ${prosody.version}`;
  const ours: LoginTarget = { port: prosody.c2sPort, domain: 'localhost' };
  const plainOn = (target: LoginTarget, mechanism: string, message: string) => async () => {
    const s = await rawSasl(target);
    try {
      return (await s.auth(mechanism, message)).name === 'success';
    } finally {
      s.close();
    }
  };
  const kinds: Kind[] = [
    { key: 'limit', label: `${v}, PLAIN, Prosody's own internal_plain (no component)`, op: plainOn({ port: prosody.c2sPort, domain: PLAIN_HOST }, 'PLAIN', `\0${user}\0${PASSWORD}`) },
    { key: 'token', label: `${v}, PLAIN with an access token, our module`, op: plainOn(ours, 'PLAIN', `\0${user}\0${secrets.accessToken}`) },
    ...(secrets.appPassword
      ? [{ key: 'app', label: `${v}, PLAIN with an app password, our module`, op: plainOn(ours, 'PLAIN', `\0${user}\0${secrets.appPassword}`) }]
      : []),
    { key: 'bearer', label: `${v}, OAUTHBEARER, our module`, op: plainOn(ours, 'OAUTHBEARER', oauthbearerMessage(secrets.accessToken)) },
    { key: 'hashed', label: `${v}, SCRAM-SHA-1, Prosody's own internal_hashed (no component)`, op: () => scramLogin({ port: prosody.c2sPort, domain: HASHED_HOST }, 'SCRAM-SHA-1', user, PASSWORD) },
    { key: 'sha1', label: `${v}, SCRAM-SHA-1, our module`, op: () => scramLogin(ours, 'SCRAM-SHA-1', user, PASSWORD) },
    { key: 'sha256', label: `${v}, SCRAM-SHA-256, our module`, op: () => scramLogin(ours, 'SCRAM-SHA-256', user, PASSWORD) },
    { key: 'password', label: `${v}, PLAIN with the password, our module (argon2id)`, op: plainOn(ours, 'PLAIN', `\0${user}\0${PASSWORD}`) },
  ];
  const only = process.env.BENCH_XMPP_KINDS?.split(',');
  // A first few logins of each kind (and the PBKDF2 of each SCRAM hash, cached like a client's), so that no kind is measured broken.
  const working: Kind[] = [];
  for (const kind of kinds.filter((k) => !only || only.includes(k.key))) {
    let ok = true;
    for (let i = 0; i < 20 && ok; i++) ok = await kind.op().catch(() => false);
    if (ok) working.push(kind);
    else log(`XMPP scenario skipped: the first logins failed (${kind.label})`);
  }
  const seconds = Math.max(2, Math.round(DURATION * 0.6));
  const rows: Row[] = [];
  const pairs: XmppComparison['pairs'] = [];
  let passwordCost: XmppComparison['passwordCost'];
  for (const concurrency of [1, 16]) {
    const at = concurrency === 1 ? '1 at a time' : `${concurrency} in flight`;
    const rounds = new Map<string, Row[]>(working.map((k) => [k.key, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const kind of working) {
        log(`scenario: ${kind.label}, ${at}, round ${round}`);
        const before = { p: cpuSeconds(pids.prosody), s: cpuSeconds(pids.server) };
        const row = await loop(`${kind.label}, ${at}`, seconds, concurrency, kind.op);
        const logins = row.rps * seconds;
        cpu.push({ scenario: row.scenario, prosodyMs: ((cpuSeconds(pids.prosody) - before.p) * 1000) / logins, serverMs: ((cpuSeconds(pids.server) - before.s) * 1000) / logins });
        rounds.get(kind.key)!.push(row);
      }
    }
    const combined = new Map([...rounds].map(([key, r]) => [key, combine(r)]));
    rows.push(...combined.values());
    const ratio = (label: string, a: string, b: string) => {
      const ra = rounds.get(a);
      const rb = rounds.get(b);
      if (!ra || !rb) return;
      pairs.push({ label: `${label}, ${at}`, ours: combined.get(a)!, theirs: combined.get(b)!, rounds: ra.map((r, i) => r.rps / rb[i]!.rps) });
    };
    ratio(`${v}: token as PLAIN / internal_plain`, 'token', 'limit');
    ratio(`${v}: app password / internal_plain`, 'app', 'limit');
    ratio(`${v}: OAUTHBEARER / internal_plain`, 'bearer', 'limit');
    ratio(`${v}: SCRAM-SHA-1 / internal_hashed SCRAM-SHA-1`, 'sha1', 'hashed');
    ratio(`${v}: SCRAM-SHA-256 / internal_hashed SCRAM-SHA-1`, 'sha256', 'hashed');
    if (concurrency === 1 && rounds.has('password') && rounds.has('limit')) {
      const median = (rs: Row[]) => percentile(rs.map((r) => r.p50).sort((a, b) => a - b), 50);
      const token = rounds.get('token');
      passwordCost = { loginP50: median(rounds.get('password')!), limitP50: median(rounds.get('limit')!), argon2P50: await argon2Median(), tokenP50: token && median(token) };
    }
  }
  return { rows, cpu, pairs, passwordCost };
}

/** The line that says how far the password login is from "argon2id + 0.5 ms". */
export function passwordCostLine(c: XmppComparison['passwordCost']): string {
  if (!c) return '';
  const extra = c.loginP50 - c.limitP50 - c.argon2P50;
  // Against the token login through the module too: what the password check adds beyond argon2id, the hop left out.
  const overToken = c.tokenP50 === undefined ? '' : `; over the token login through our module (p50 ${c.tokenP50.toFixed(2)} ms): argon2id + ${(c.loginP50 - c.tokenP50 - c.argon2P50).toFixed(2)} ms`;
  return `PLAIN with the password, 1 at a time: login p50 ${c.loginP50.toFixed(2)} ms = internal_plain p50 ${c.limitP50.toFixed(2)} ms + argon2id verify p50 ${c.argon2P50.toFixed(2)} ms (measured in the bench process, idle) + ${extra.toFixed(2)} ms (target: at most 0.5 ms)${overToken}`;
}

/** CPU per login by scenario (mean of the rounds), Prosody's and our server's. */
export function cpuTable(c: XmppComparison): string {
  const by = new Map<string, { p: number[]; s: number[] }>();
  for (const r of c.cpu) {
    const e = by.get(r.scenario) ?? { p: [], s: [] };
    e.p.push(r.prosodyMs);
    e.s.push(r.serverMs);
    by.set(r.scenario, e);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const fmt = (ms: number) => (Number.isFinite(ms) ? (ms * 1000).toFixed(0) : '-');
  return markdown(['scenario', 'Prosody CPU µs per login', 'our server CPU µs per login'], [...by].map(([k, e]) => [k, fmt(mean(e.p)), fmt(mean(e.s))]));
}
