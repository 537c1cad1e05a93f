// Shared pieces of the benchmark (bench/run.ts is the runner, bench/scenarios/
// one file per scenario): settings from the environment, the server under test
// as its own process, autocannon runs, in-process loops and the tables.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon, { type Result } from 'autocannon';
import YAML from 'yaml';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'xmpp-oauth.js');
export const DURATION = Number(process.env.BENCH_DURATION ?? 5);
export const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
// Extra node flags for our server only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its time goes.
const EXTRA_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
// As the Docker image and the systemd unit run it (docs/operations.md): a larger young generation.
export const SERVER_NODE_ARGS = EXTRA_NODE_ARGS.some((a) => a.startsWith('--max-semi-space-size')) ? EXTRA_NODE_ARGS : ['--max-semi-space-size=32', ...EXTRA_NODE_ARGS];
/** Refresh-token chains per server (see refreshScenario). */
/** Alternated rounds of each compared scenario, ours then theirs, each DURATION long. */
export const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
// Each stop of autocannon (warm-up, measured part) loses up to one chain per connection.
export const CHAINS = (2 + 2 * ROUNDS) * CONNECTIONS;

/** Rounds of one scenario as one row: mean throughput, the worst latencies, every error. */
export function combine(rows: Row[]): Row {
  const first = rows[0]!;
  if (rows.length === 1) return first;
  const worst = (pick: (r: Row) => number | undefined) => Math.max(...rows.map((r) => pick(r) ?? Number.NaN));
  return {
    ...first,
    rps: rows.reduce((sum, r) => sum + r.rps, 0) / rows.length,
    p50: worst((r) => r.p50),
    p99: worst((r) => r.p99),
    errors: rows.reduce((sum, r) => sum + r.errors, 0),
    loopP99: first.loopP99 === undefined ? undefined : worst((r) => r.loopP99),
    perSecond: first.perSecond && rows.flatMap((r) => r.perSecond ?? []),
  };
}
export const PASSWORD = 'bench password, long enough to be realistic';
export const CLIENT_ID = 'bench';
export const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef';
export const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
export const FORM = { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC };

export interface Row {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server event-loop delay p99 during the scenario, ms (HTTP scenarios only). */
  loopP99?: number;
  /** 2xx answers completed in each second of the scenario (HTTP scenarios only). */
  perSecond?: number[];
  note?: string;
}

/** An HTTP server under test: ours or oidc-provider. */
export interface Target {
  name: string;
  url: string;
  tokenPath: string;
  introspectPath: string;
  revokePath: string;
  discoveryPath: string;
  /** The server's event-loop delay p99 (ms) since the previous call, which resets it. */
  loopP99(): Promise<number>;
}

export const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_')));
export const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

// ---------------------------------------------------------------------------
// The server under test

export function writeConfig(dir: string, port: number, redisUrl: string, xmpp: Record<string, unknown> = { enabled: false, hosts: ['localhost'] }): string {
  const file = join(dir, 'bench.yaml');
  const config = {
    issuer: `http://127.0.0.1:${port}`,
    http: { host: '127.0.0.1', port },
    redis: { url: redisUrl },
    xmpp,
    log: { level: 'warn' },
    // The password grant is the HTTP door to the password login path; off by default in production.
    allowed_grant_types: ['authorization_code', 'refresh_token', 'device_code', 'password'],
    // A benchmark is one client hammering the server: lift the per-client and login throttles.
    // A short window: an instance answers the failed-auth look-up from announced blocks once it has heard them for a window.
    token_throttle: { per_client: 1_000_000_000, failed_auth: 1_000_000_000, window: 10 },
    login_throttle: { per_account: 1_000_000_000, per_address: 1_000_000_000, window: 60 },
    clients: [
      {
        id: CLIENT_ID,
        name: 'Benchmark',
        secret_hash: `sha256:${createHash('sha256').update(CLIENT_SECRET).digest('hex')}`,
        redirect_uris: ['https://bench.example/cb'],
        grant_types: ['authorization_code', 'refresh_token', 'password'],
      },
    ],
  };
  writeFileSync(file, YAML.stringify(config));
  return file;
}

export async function startServer(configFile: string, url: string, args: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, BIN, 'serve', '--config', configFile, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  // With workers, /healthz answers once the first one does; the others (the
  // bench logs at warn, so their "serving" lines are not printed) get a few seconds more.
  const workers = args.includes('--workers');
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) {
        if (workers) await sleep(4000);
        return child;
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`server did not answer /healthz within 20 s:\n${output}`);
}

export async function stopServer(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
  const code = await done;
  clearTimeout(timer);
  return code;
}

/** Scrapes /metrics; the event-loop histogram restarts at every scrape (prom-client resets it). */
export async function metrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(xmpp_oauth_[a-z0-9_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && !m[2]) out[m[1]!] = Number(m[3]);
  }
  return out;
}

export async function passwordGrant(url: string, username = 'alice@localhost'): Promise<{ access_token: string; refresh_token: string }> {
  const res = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD, scope: 'openid offline_access xmpp' }),
  });
  const body = (await res.json()) as { access_token: string; refresh_token: string };
  if (res.status !== 200 || !body.refresh_token) throw new Error(`password grant failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

// ---------------------------------------------------------------------------
// Scenarios over HTTP (autocannon)

export async function http(
  target: Target,
  scenario: string,
  opts: Omit<Parameters<typeof autocannon>[0], 'url'> & { expectStatus?: number },
): Promise<Row> {
  const expected = (status: number) => (opts.expectStatus === undefined ? status >= 200 && status <= 299 : status === opts.expectStatus);
  let unexpected = 0;
  await target.loopP99(); // reset the event-loop histogram
  // Keep the first failure's answer, so a non-zero error count explains itself.
  let firstFailure: string | undefined;
  const perSecond: number[] = [];
  let start = 0;
  const { method, path, headers, body } = opts;
  const requests = (opts.requests ?? [{ method, path, headers, body }]).map((step) => ({
    ...step,
    onResponse: (status: number, body: string, ctx: Record<string, unknown>, headers: Record<string, string>) => {
      if (!expected(status)) {
        unexpected++;
        if (firstFailure === undefined) firstFailure = `${status} ${body.slice(0, 200)}`;
      } else {
        const s = Math.floor((performance.now() - start) / 1000);
        if (s < DURATION) perSecond[s] = (perSecond[s] ?? 0) + 1;
      }
      step.onResponse?.(status, body, ctx, headers);
    },
  }));
  // Warm-up: the same load, not measured (both servers start cold; their JIT
  // needs a few thousand requests), but its failures count as errors.
  let warmupErrors = 0;
  if (WARMUP > 0) {
    const { expectStatus: _e, ...warm } = opts;
    void _e;
    const w: Result = await autocannon({ url: target.url, duration: WARMUP, connections: CONNECTIONS, timeout: 10, ...warm, requests });
    warmupErrors = w.errors + w.timeouts;
    await target.loopP99(); // reset the event-loop histogram again
  }
  perSecond.length = 0;
  start = performance.now();
  const { expectStatus: _expect, ...cannon } = opts;
  void _expect;
  const r: Result = await autocannon({ url: target.url, duration: DURATION, connections: CONNECTIONS, timeout: 10, ...cannon, requests });
  if (firstFailure) log(`${target.name} ${scenario}: first failure: ${firstFailure}`);
  return {
    scenario,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    // Answers other than the expected status (2xx unless told), warm-up included.
    errors: warmupErrors + r.errors + r.timeouts + unexpected,
    loopP99: await target.loopP99(),
    perSecond: Array.from({ length: DURATION }, (_, i) => perSecond[i] ?? 0),
  };
}

export function ourTarget(url: string): Target {
  return {
    name: 'xmpp-oauth',
    url,
    tokenPath: '/oauth2/token',
    introspectPath: '/oauth2/introspect',
    revokePath: '/oauth2/revoke',
    discoveryPath: '/.well-known/openid-configuration',
    loopP99: async () => ((await metrics(url)).xmpp_oauth_nodejs_eventloop_lag_p99_seconds ?? NaN) * 1000,
  };
}

export const form = (params: Record<string, string>) => ({ method: 'POST', headers: FORM, body: new URLSearchParams(params) });

/**
 * Before measuring a server: one refresh from the queue must answer 200 with a
 * new refresh token (which goes back into the queue in place of the spent one),
 * and the access token must introspect as active.
 */
export async function preflight(target: Target, live: string[], accessToken: string): Promise<void> {
  const old = live.shift()!;
  const res = await fetch(target.url + target.tokenPath, form({ grant_type: 'refresh_token', refresh_token: old }));
  const body = (await res.json()) as { access_token?: string; refresh_token?: string; id_token?: string };
  if (res.status !== 200 || !body.access_token || !body.refresh_token || body.refresh_token === old || !body.id_token) {
    throw new Error(`${target.name}: refresh pre-flight failed: ${res.status} ${JSON.stringify(body)}`);
  }
  live.push(body.refresh_token);
  const intro = await fetch(target.url + target.introspectPath, form({ token: accessToken }));
  const ibody = (await intro.json()) as { active?: boolean };
  if (intro.status !== 200 || ibody.active !== true) throw new Error(`${target.name}: introspection pre-flight failed: ${intro.status} ${JSON.stringify(ibody)}`);
}

/**
 * A live access token, fresh from one refresh out of the queue (the new refresh
 * token goes back into it). Introspection scenarios use one of these: the
 * oidc-provider in-memory adapter is an LRU of ~1,000 entries, so an access
 * token minted before the refresh scenario has been evicted by the time
 * introspection runs and would introspect as inactive.
 */
export async function freshAccessToken(target: Target, live: string[]): Promise<string> {
  const res = await fetch(target.url + target.tokenPath, form({ grant_type: 'refresh_token', refresh_token: live.shift()! }));
  const body = (await res.json()) as { access_token?: string; refresh_token?: string };
  if (res.status !== 200 || !body.access_token || !body.refresh_token) throw new Error(`${target.name}: refresh failed: ${res.status} ${JSON.stringify(body)}`);
  live.push(body.refresh_token);
  return body.access_token;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------
// In-process core calls (what the XMPP IQ handler and introspection call)

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `op` for `seconds`, `concurrency` at a time; latency per call in ms. */
export async function loop(scenario: string, seconds: number, concurrency: number, op: () => Promise<boolean>): Promise<Row> {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      if (!(await op())) errors++;
      lat.push(performance.now() - t);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { scenario, rps: lat.length / elapsed, p50: percentile(lat, 50), p99: percentile(lat, 99), errors };
}

export const fmtRps = (rps: number) => (rps >= 100 ? Math.round(rps).toString() : rps.toFixed(1));
export const fmtMs = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

export function theirVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'oidc-provider', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function table(rows: Row[]): string {
  const head = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server loop p99 ms (incl. 10 ms tick)'];
  const body = rows.map((r) => [
    r.scenario,
    fmtRps(r.rps),
    fmtMs(r.p50),
    fmtMs(r.p99),
    String(r.errors),
    r.loopP99 === undefined || Number.isNaN(r.loopP99) ? '-' : r.loopP99.toFixed(1),
  ]);
  return markdown(head, body);
}

/** Ours against oidc-provider, scenario by scenario (or any A against B: `sides` names the columns). */
export function ratioTable(pairs: Array<{ label: string; ours: Row; theirs: Row; rounds?: number[] }>, sides: [string, string, string, string] = ['ours', 'oidc-provider', 'ours', 'theirs']): string {
  const [a, b, shortA, shortB] = sides;
  const head = ['scenario', `${a} req/s`, `${b} req/s`, `${shortA} / ${shortB}`, 'each round', `${shortA} p99 ms`, `${shortB} p99 ms`, `errors ${shortA} / ${shortB}`];
  const body = pairs.map(({ label, ours, theirs, rounds }) => [
    label,
    fmtRps(ours.rps),
    fmtRps(theirs.rps),
    `${(ours.rps / theirs.rps).toFixed(2)}x`,
    (rounds ?? []).map((r) => `${r.toFixed(2)}x`).join(' '),
    fmtMs(ours.p99),
    fmtMs(theirs.p99),
    `${ours.errors} / ${theirs.errors}`,
  ]);
  return markdown(head, body);
}

export function markdown(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|')}|`, ...body.map(line)].join('\n');
}
