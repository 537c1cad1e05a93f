// `npm run bench`: the server as operators run it (built CLI, its own process,
// real redis-server), driven by autocannon; plus the core token check measured
// in-process. Prints one table and the server's event-loop delay per scenario.
//
// Environment: BENCH_DURATION (seconds per scenario, default 5),
// BENCH_CONNECTIONS (default 16), BENCH_NO_BUILD=1 to skip `npm run build`.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon, { type Result } from 'autocannon';
import { Redis } from 'ioredis';
import YAML from 'yaml';
import { freePort } from '../test/helpers/ports.js';
import { startRedis, type RedisInstance } from '../test/helpers/redis.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'xmpp-oauth.js');
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PASSWORD = 'bench password, long enough to be realistic';
const CLIENT_ID = 'bench';
const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef';
const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC };

interface Row {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server event-loop delay p99 during the scenario, ms (HTTP scenarios only). */
  loopP99?: number;
  note?: string;
}

const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_')));
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

// ---------------------------------------------------------------------------
// The server under test

function writeConfig(dir: string, port: number, redisUrl: string): string {
  const file = join(dir, 'bench.yaml');
  const config = {
    issuer: `http://127.0.0.1:${port}`,
    http: { host: '127.0.0.1', port },
    redis: { url: redisUrl },
    xmpp: { enabled: false, hosts: ['localhost'] },
    log: { level: 'warn' },
    // The password grant is the HTTP door to the password login path; off by default in production.
    allowed_grant_types: ['authorization_code', 'refresh_token', 'device_code', 'password'],
    // A benchmark is one client hammering the server: lift the per-client and login throttles.
    token_throttle: { per_client: 1_000_000_000, failed_auth: 1000, window: 60 },
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

async function startServer(configFile: string, url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return child;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`server did not answer /healthz within 20 s:\n${output}`);
}

async function stopServer(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
  const code = await done;
  clearTimeout(timer);
  return code;
}

/** Scrapes /metrics; the event-loop histogram restarts at every scrape (prom-client resets it). */
async function metrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(xmpp_oauth_[a-z0-9_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && !m[2]) out[m[1]!] = Number(m[3]);
  }
  return out;
}

async function passwordGrant(url: string): Promise<{ access_token: string; refresh_token: string }> {
  const res = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid offline_access xmpp' }),
  });
  const body = (await res.json()) as { access_token: string; refresh_token: string };
  if (res.status !== 200 || !body.refresh_token) throw new Error(`password grant failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

// ---------------------------------------------------------------------------
// Scenarios over HTTP (autocannon)

async function http(
  url: string,
  scenario: string,
  opts: Omit<Parameters<typeof autocannon>[0], 'url'>,
): Promise<Row> {
  await metrics(url); // reset the event-loop histogram
  // Keep the first failure's answer, so a non-zero error count explains itself.
  let firstFailure: string | undefined;
  const { method, path, headers, body } = opts;
  const requests = (opts.requests ?? [{ method, path, headers, body }]).map((step) => ({
    ...step,
    onResponse: (status: number, body: string, ctx: Record<string, unknown>, headers: Record<string, string>) => {
      if ((status < 200 || status > 299) && firstFailure === undefined) firstFailure = `${status} ${body.slice(0, 200)}`;
      step.onResponse?.(status, body, ctx, headers);
    },
  }));
  const r: Result = await autocannon({ url, duration: DURATION, connections: CONNECTIONS, timeout: 10, ...opts, requests });
  if (firstFailure) log(`${scenario}: first failure: ${firstFailure}`);
  const m = await metrics(url);
  return {
    scenario,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    loopP99: (m.xmpp_oauth_nodejs_eventloop_lag_p99_seconds ?? NaN) * 1000,
  };
}

/**
 * refresh_token grant. Refresh tokens rotate and a reused one revokes the
 * grant, so every request takes a live token from a queue and every answer
 * puts the new one back: each token is sent exactly once. (autocannon's
 * per-connection context is reset after every request, so it cannot hold them.)
 * The queue starts with twice as many tokens, minted by the password grant, as
 * there are connections.
 */
async function refreshScenario(url: string): Promise<Row> {
  const live = await Promise.all(Array.from({ length: 2 * CONNECTIONS }, () => passwordGrant(url).then((t) => t.refresh_token)));
  return http(url, 'token: refresh_token grant (rotating)', {
    requests: [
      {
        method: 'POST',
        path: '/oauth2/token',
        headers: FORM,
        setupRequest: (req) => ({ ...req, body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(live.shift() ?? 'queue-empty')}` }),
        onResponse: (status, body) => {
          // A failed refresh loses its chain (autocannon counts the non-2xx).
          if (status === 200) live.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
        },
      },
    ],
  });
}

async function introspectionScenario(url: string, token: string): Promise<Row> {
  let inactive = 0;
  const row = await http(url, 'introspection (access token)', {
    requests: [
      {
        method: 'POST',
        path: '/oauth2/introspect',
        headers: FORM,
        body: new URLSearchParams({ token }).toString(),
        onResponse: (_s, body) => {
          if (!body.includes('"active":true')) inactive++;
        },
      },
    ],
  });
  row.errors += inactive;
  return row;
}

/** The password login path over HTTP: the password grant, i.e. one argon2id verification per request. */
async function passwordScenario(url: string): Promise<Row> {
  const row = await http(url, 'password login (password grant, argon2id)', {
    connections: Math.min(CONNECTIONS, 8),
    method: 'POST',
    path: '/oauth2/token',
    headers: FORM,
    body: new URLSearchParams({ grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid xmpp' }).toString(),
  });
  row.note = 'event-loop target: p99 < 20 ms';
  return row;
}

// ---------------------------------------------------------------------------
// In-process core calls (what the XMPP IQ handler and introspection call)

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `op` for `seconds`, `concurrency` at a time; latency per call in ms. */
async function loop(scenario: string, seconds: number, concurrency: number, op: () => Promise<boolean>): Promise<Row> {
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

async function coreScenarios(configFile: string, accessToken: string): Promise<Row[]> {
  // The built code, configured from the same file, on the same Redis: same keys, same grants.
  const { validate } = (await import(join(ROOT, 'dist/config/load.js'))) as { validate: (raw: Record<string, unknown>) => unknown };
  const { createApp } = (await import(join(ROOT, 'dist/app.js'))) as { createApp: (c: unknown, l: unknown) => Promise<CoreApp> };
  const { silentLogger } = (await import(join(ROOT, 'dist/log.js'))) as { silentLogger: unknown };
  const { validateAccessToken } = (await import(join(ROOT, 'dist/oauth/validate-token.js'))) as {
    validateAccessToken: (signer: unknown, store: unknown, token: string) => Promise<unknown>;
  };
  const { authenticate } = (await import(join(ROOT, 'dist/oauth/xmpp-login.js'))) as {
    authenticate: (deps: unknown, user: string, host: string, secret: string) => Promise<{ ok: boolean }>;
  };
  const { readFileSync } = await import('node:fs');
  const raw = YAML.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  const app = await createApp(validate(raw), silentLogger);
  try {
    const seconds = Math.max(2, Math.round(DURATION * 0.6));
    const check = async () => (await validateAccessToken(app.core.signer, app.store, accessToken)) !== null;
    if (!(await check())) throw new Error('in-process validateAccessToken refused a fresh token');
    const rows = [
      await loop('validateAccessToken, in-process, 1 at a time', seconds, 1, check),
      await loop('validateAccessToken, in-process, 32 in flight', seconds, 32, check),
      await loop('authenticate(token) (XMPP login core), 32 in flight', seconds, 32, async () => (await authenticate(app.core, 'alice', 'localhost', accessToken)).ok),
    ];
    return rows;
  } finally {
    await app.stop();
  }
}

interface CoreApp {
  core: { signer: unknown };
  store: unknown;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// extauth bridge

/**
 * Round trips through `xmpp-oauth extauth --protocol generic` (Prosody's line
 * protocol: `auth:user:host:secret` → `1`/`0`), one at a time, with an access
 * token as the secret. Returns null, with the reason logged, when the bridge
 * does not answer a first `auth` correctly (e.g. not implemented in this build).
 */
async function extauthScenario(configFile: string, accessToken: string): Promise<Row | null> {
  const child = spawn(process.execPath, [BIN, 'extauth', '--protocol', 'generic', '--config', configFile], {
    env: cleanEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string | null) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line.trim()));
  child.once('exit', () => {
    for (const w of waiting.splice(0)) w(null);
  });
  const ask = (line: string, timeoutMs: number) =>
    new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
      if (child.exitCode === null && child.stdin!.writable) child.stdin!.write(`${line}\n`);
    });
  try {
    const first = await ask(`auth:alice:localhost:${accessToken}`, 5000);
    const wrong = first === '1' ? await ask('auth:alice:localhost:not-the-password', 5000) : null;
    if (first !== '1' || wrong !== '0') {
      log(`extauth scenario skipped: the bridge did not answer auth correctly (got ${JSON.stringify(first)} / ${JSON.stringify(wrong)}; exit ${child.exitCode}; ${stderr.trim().split('\n')[0] ?? ''})`);
      return null;
    }
    let errors = 0;
    const row = await loop('extauth bridge round trip (generic, token)', DURATION, 1, async () => {
      const answer = await ask(`auth:alice:localhost:${accessToken}`, 5000);
      if (answer !== '1') errors++;
      return answer === '1';
    });
    row.errors = errors;
    return row;
  } finally {
    child.stdin!.end();
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------------------
// Redis footprint

async function redisFootprint(redisUrl: string): Promise<{ refreshBytes: number; grantBytes: number; refreshKeys: number; grants: number }> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', 'xo:{g:*', 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const refresh = keys.filter((k) => k.includes('}:rt:'));
    const grants = keys.filter((k) => k.endsWith('}'));
    const sample = async (ks: string[]) => {
      const some = ks.slice(0, 200);
      const sizes = await Promise.all(some.map((k) => redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0') as Promise<number | null>));
      const known = sizes.filter((s): s is number => typeof s === 'number');
      return known.length ? known.reduce((a, b) => a + b, 0) / known.length : NaN;
    };
    return { refreshBytes: await sample(refresh), grantBytes: await sample(grants), refreshKeys: refresh.length, grants: grants.length };
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------

function table(rows: Row[]): string {
  const head = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server loop p99 ms (incl. 10 ms tick)'];
  const body = rows.map((r) => [
    r.scenario,
    r.rps >= 100 ? Math.round(r.rps).toString() : r.rps.toFixed(1),
    r.p50 < 10 ? r.p50.toFixed(2) : r.p50.toFixed(1),
    r.p99 < 10 ? r.p99.toFixed(2) : r.p99.toFixed(1),
    String(r.errors),
    r.loopP99 === undefined || Number.isNaN(r.loopP99) ? '-' : r.loopP99.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  if (!process.env.BENCH_NO_BUILD) {
    log('npm run build');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'xo-bench-'));
  let redis: RedisInstance | undefined;
  let server: ChildProcess | undefined;
  try {
    redis = await startRedis();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const configFile = writeConfig(dir, port, redis.url);
    execFileSync(process.execPath, [BIN, 'user', 'add', 'alice@localhost', '--password-stdin', '--config', configFile], {
      input: `${PASSWORD}\n`,
      env: cleanEnv(),
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    server = await startServer(configFile, url);
    log(`server up at ${url} (pid ${server.pid}); ${DURATION} s per scenario, ${CONNECTIONS} connections`);

    const { access_token: accessToken } = await passwordGrant(url);
    await metrics(url);
    await sleep(1000);
    const idleLoop = ((await metrics(url)).xmpp_oauth_nodejs_eventloop_lag_p99_seconds ?? NaN) * 1000;

    const rows: Row[] = [];
    log('scenario: refresh_token grant');
    rows.push(await refreshScenario(url));
    log('scenario: introspection');
    rows.push(await introspectionScenario(url, accessToken));
    log('scenario: password login');
    rows.push(await passwordScenario(url));
    log('scenario: in-process token validation');
    rows.push(...(await coreScenarios(configFile, accessToken)));
    log('scenario: extauth bridge');
    const ext = await extauthScenario(configFile, accessToken);
    if (ext) rows.push(ext);

    const final = await metrics(url);
    const rss = (final.xmpp_oauth_process_resident_memory_bytes ?? NaN) / 2 ** 20;
    const footprint = await redisFootprint(redis.url);

    process.stdout.write(`\nxmpp-oauth benchmark, ${new Date().toISOString()}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}\n\n`);
    process.stdout.write(`${table(rows)}\n\n`);
    process.stdout.write(`server event-loop delay p99 when idle: ${idleLoop.toFixed(1)} ms (prom-client samples every 10 ms, so ~10 ms is an idle loop)\n`);
    process.stdout.write(`server RSS after the benchmark: ${rss.toFixed(0)} MB (target < 150 MB)\n`);
    process.stdout.write(`Redis MEMORY USAGE: ${footprint.refreshBytes.toFixed(0)} B per refresh-token key (${footprint.refreshKeys} kept, rotated ones included until expiry), ${footprint.grantBytes.toFixed(0)} B per grant hash (${footprint.grants} grants)\n`);
    if (!ext) process.stdout.write('extauth bridge: not measured (the bridge in this build does not answer `auth`; see the log line above)\n');
    process.stdout.write(`total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  } finally {
    if (server) {
      const code = await stopServer(server);
      if (code !== 0) log(`server exited with ${code} on SIGTERM`);
    }
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
