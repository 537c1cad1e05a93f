// `npm run bench`: the server as operators run it (built CLI, its own process,
// real redis-server), driven by autocannon; plus the core token check measured
// in-process. Prints one table and the server's event-loop delay per scenario.
// In the same run, panva's oidc-provider (bench/oidc-provider-server.ts, its own
// process, in-memory adapter) gets the same refresh and introspection load, each
// right after ours, and a second table prints our throughput divided by theirs.
//
// Environment: BENCH_DURATION (seconds per scenario, default 5),
// BENCH_WARMUP (seconds of the same load, not measured, before each HTTP
// scenario, default 2), BENCH_CONNECTIONS (default 16), BENCH_NO_BUILD=1 to
// skip `npm run build`, BENCH_SERVER_NODE_ARGS (extra node flags for our
// server process only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
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
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
// Extra node flags for our server only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its time goes.
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** Refresh-token chains per server (see refreshScenario). */
const CHAINS = 4 * CONNECTIONS;
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
  /** 2xx answers completed in each second of the scenario (HTTP scenarios only). */
  perSecond?: number[];
  note?: string;
}

/** An HTTP server under test: ours or oidc-provider. */
interface Target {
  name: string;
  url: string;
  tokenPath: string;
  introspectPath: string;
  /** The server's event-loop delay p99 (ms) since the previous call, which resets it. */
  loopP99(): Promise<number>;
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
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, BIN, 'serve', '--config', configFile], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
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
  target: Target,
  scenario: string,
  opts: Omit<Parameters<typeof autocannon>[0], 'url'>,
): Promise<Row> {
  await target.loopP99(); // reset the event-loop histogram
  // Keep the first failure's answer, so a non-zero error count explains itself.
  let firstFailure: string | undefined;
  const perSecond: number[] = [];
  let start = 0;
  const { method, path, headers, body } = opts;
  const requests = (opts.requests ?? [{ method, path, headers, body }]).map((step) => ({
    ...step,
    onResponse: (status: number, body: string, ctx: Record<string, unknown>, headers: Record<string, string>) => {
      if (status < 200 || status > 299) {
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
    const w: Result = await autocannon({ url: target.url, duration: WARMUP, connections: CONNECTIONS, timeout: 10, ...opts, requests });
    warmupErrors = w.errors + w.timeouts + w.non2xx;
    await target.loopP99(); // reset the event-loop histogram again
  }
  perSecond.length = 0;
  start = performance.now();
  const r: Result = await autocannon({ url: target.url, duration: DURATION, connections: CONNECTIONS, timeout: 10, ...opts, requests });
  if (firstFailure) log(`${target.name} ${scenario}: first failure: ${firstFailure}`);
  return {
    scenario,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: warmupErrors + r.errors + r.timeouts + r.non2xx,
    loopP99: await target.loopP99(),
    perSecond: Array.from({ length: DURATION }, (_, i) => perSecond[i] ?? 0),
  };
}

function ourTarget(url: string): Target {
  return {
    name: 'xmpp-oauth',
    url,
    tokenPath: '/oauth2/token',
    introspectPath: '/oauth2/introspect',
    loopP99: async () => ((await metrics(url)).xmpp_oauth_nodejs_eventloop_lag_p99_seconds ?? NaN) * 1000,
  };
}

const form = (params: Record<string, string>) => ({ method: 'POST', headers: FORM, body: new URLSearchParams(params) });

/**
 * Before measuring a server: one refresh from the queue must answer 200 with a
 * new refresh token (which goes back into the queue in place of the spent one),
 * and the access token must introspect as active.
 */
async function preflight(target: Target, live: string[], accessToken: string): Promise<void> {
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
 * refresh_token grant. Refresh tokens rotate and a reused one revokes the
 * grant, so every request takes a live token from a queue and every answer
 * puts the new one back: each token is sent exactly once. (autocannon's
 * per-connection context is reset after every request, so it cannot hold them.)
 * The queue starts with CHAINS (4 x connections) tokens, all on one grant
 * (ours: password grants of one user to one client; oidc-provider: minted
 * through its models on one Grant). When autocannon stops it drops the answers
 * still in flight, so each stop (end of warm-up, end of scenario) loses up to
 * one chain per connection; 4 x leaves at least 2 x connections for the
 * measured part and some for what follows.
 */
async function refreshScenario(target: Target, live: string[], scenario = 'token: refresh_token grant (rotating)'): Promise<Row> {
  return http(target, scenario, {
    requests: [
      {
        method: 'POST',
        path: target.tokenPath,
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

/**
 * A live access token, fresh from one refresh out of the queue (the new refresh
 * token goes back into it). Introspection scenarios use one of these: the
 * oidc-provider in-memory adapter is an LRU of ~1,000 entries, so an access
 * token minted before the refresh scenario has been evicted by the time
 * introspection runs and would introspect as inactive.
 */
async function freshAccessToken(target: Target, live: string[]): Promise<string> {
  const res = await fetch(target.url + target.tokenPath, form({ grant_type: 'refresh_token', refresh_token: live.shift()! }));
  const body = (await res.json()) as { access_token?: string; refresh_token?: string };
  if (res.status !== 200 || !body.access_token || !body.refresh_token) throw new Error(`${target.name}: refresh failed: ${res.status} ${JSON.stringify(body)}`);
  live.push(body.refresh_token);
  return body.access_token;
}

async function introspectionScenario(target: Target, token: string): Promise<Row> {
  let inactive = 0;
  const row = await http(target, 'introspection (access token)', {
    requests: [
      {
        method: 'POST',
        path: target.introspectPath,
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
async function passwordScenario(target: Target): Promise<Row> {
  const row = await http(target, 'password login (password grant, argon2id)', {
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
// oidc-provider, the comparison (bench/oidc-provider-server.ts)

interface Theirs {
  target: Target;
  child: ChildProcess;
  /** Refresh-token chains, all on one new grant or each on a grant of its own, and an access token. */
  mint(chains: number, grantPerChain: boolean): Promise<Minted>;
  stats(): Promise<Stats>;
}

interface Minted {
  refreshTokens: string[];
  accessToken: string;
}

interface Stats {
  loopP99Ms: number;
  rssBytes: number;
  heapUsedBytes: number;
}

async function startTheirs(): Promise<Theirs> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'oidc-provider-server.ts'), String(port)], {
    cwd: ROOT,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
    // Pass on what oidc-provider warns about (unsupported Node version, development-only adapter).
    for (const line of d.toString().split('\n')) if (line.includes('oidc-provider WARNING')) log(line.trim());
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // Answers come back in order, one per request.
  const waiting: Record<'stats' | 'minted', Array<(msg: Record<string, unknown>) => void>> = { stats: [], minted: [] };
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start within 20 s:\n${output}`)), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`oidc-provider exited (${code}):\n${output}`));
    });
    child.on('message', (msg: { type: string } & Record<string, unknown>) => {
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve(msg.url as string);
      } else if (msg.type === 'stats' || msg.type === 'minted') waiting[msg.type].shift()?.(msg);
    });
  });
  const ask = (type: 'stats' | 'minted', request: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`oidc-provider is gone:\n${output}`));
      waiting[type].push(resolve);
      child.send(request);
    });
  const stats = async () => (await ask('stats', { type: 'stats' })) as unknown as Stats;
  const mint = async (chains: number, grantPerChain: boolean) => {
    const msg = await ask('minted', { type: 'mint', chains, grantPerChain });
    if (msg.error) throw new Error(`oidc-provider could not mint tokens: ${String(msg.error)}`);
    return msg as unknown as Minted;
  };
  const url = await ready;
  return {
    target: { name: 'oidc-provider', url, tokenPath: '/token', introspectPath: '/token/introspection', loopP99: async () => (await stats()).loopP99Ms },
    child,
    mint,
    stats,
  };
}

/**
 * Their rotation must behave like ours before it is compared: on a grant of its
 * own, a refresh answers a new refresh token, replaying the spent one is
 * refused, and the replay revokes the grant (the new token is refused too).
 */
async function checkTheirRotation(theirs: Theirs): Promise<void> {
  const [probe] = (await theirs.mint(1, false)).refreshTokens;
  const token = (refresh_token: string) => fetch(theirs.target.url + theirs.target.tokenPath, form({ grant_type: 'refresh_token', refresh_token }));
  const first = await token(probe!);
  const body = (await first.json()) as { refresh_token?: string };
  if (first.status !== 200 || !body.refresh_token || body.refresh_token === probe) {
    throw new Error(`oidc-provider does not rotate refresh tokens: ${first.status} ${JSON.stringify(body)}`);
  }
  const replay = await token(probe!);
  const after = await token(body.refresh_token);
  if (replay.status !== 400 || after.status !== 400) {
    throw new Error(`oidc-provider replay handling differs from ours: replay ${replay.status}, next token after the replay ${after.status}`);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(timer);
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
  const raw = YAML.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  const app = await createApp(validate(raw), silentLogger);
  try {
    const seconds = Math.max(2, Math.round(DURATION * 0.6));
    const check = async () => (await validateAccessToken(app.core.signer, app.store, accessToken)) !== null;
    if (!(await check())) throw new Error('in-process validateAccessToken refused a fresh token');
    // Tokens never seen before: the verified-token cache holds 4,096, so cycling
    // through 20,000 misses every time and measures the signature check too.
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as Record<string, string>;
    const input = { jid: claims.jid, clientId: claims.client_id, scope: claims.scope!.split(' '), grantId: claims.gid };
    const fresh: string[] = [];
    for (let i = 0; i < 20_000; i++) fresh.push((await app.core.signer.accessToken(input)).token);
    let next = 0;
    const checkFresh = async () => (await validateAccessToken(app.core.signer, app.store, fresh[next++ % fresh.length]!)) !== null;
    const rows = [
      await loop('validateAccessToken, in-process, 1 at a time', seconds, 1, check),
      await loop('validateAccessToken, in-process, 32 in flight', seconds, 32, check),
      await loop('validateAccessToken, a new token each call, 32 in flight', seconds, 32, checkFresh),
      await loop('authenticate(token) (XMPP login core), 32 in flight', seconds, 32, async () => (await authenticate(app.core, 'alice', 'localhost', accessToken)).ok),
    ];
    return rows;
  } finally {
    await app.stop();
  }
}

interface CoreApp {
  core: { signer: { accessToken(input: { jid?: string; clientId?: string; scope: string[]; grantId?: string }): Promise<{ token: string }> } };
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

interface Footprint {
  refreshBytes: number;
  grantBytes: number;
  refreshKeys: number;
  grants: number;
  /** The grants' refresh-token indexes (sorted sets of digests by expiry), per entry. */
  indexBytesPerEntry: number;
  indexEntries: number;
}

async function redisFootprint(redisUrl: string): Promise<Footprint> {
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
    const indexes = keys.filter((k) => k.endsWith('}:rts'));
    const sample = async (ks: string[]) => {
      const some = ks.slice(0, 200);
      const sizes = await Promise.all(some.map((k) => redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0') as Promise<number | null>));
      const known = sizes.filter((s): s is number => typeof s === 'number');
      return known.length ? known.reduce((a, b) => a + b, 0) / known.length : NaN;
    };
    let indexBytes = 0;
    let indexEntries = 0;
    for (const k of indexes) {
      indexBytes += ((await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) as number | null) ?? 0;
      indexEntries += await redis.zcard(k);
    }
    return {
      refreshBytes: await sample(refresh),
      grantBytes: await sample(grants),
      refreshKeys: refresh.length,
      grants: grants.length,
      indexBytesPerEntry: indexEntries ? indexBytes / indexEntries : NaN,
      indexEntries,
    };
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------

const fmtRps = (rps: number) => (rps >= 100 ? Math.round(rps).toString() : rps.toFixed(1));
const fmtMs = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

function theirVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'oidc-provider', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function table(rows: Row[]): string {
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

/** Ours against oidc-provider, scenario by scenario. */
function ratioTable(pairs: Array<{ label: string; ours: Row; theirs: Row }>): string {
  const head = ['scenario', 'ours req/s', 'oidc-provider req/s', 'ours / theirs', 'ours p99 ms', 'theirs p99 ms', 'errors ours / theirs'];
  const body = pairs.map(({ label, ours, theirs }) => [
    label,
    fmtRps(ours.rps),
    fmtRps(theirs.rps),
    `${(ours.rps / theirs.rps).toFixed(2)}x`,
    fmtMs(ours.p99),
    fmtMs(theirs.p99),
    `${ours.errors} / ${theirs.errors}`,
  ]);
  return markdown(head, body);
}

function markdown(head: string[], body: string[][]): string {
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
  let theirs: Theirs | undefined;
  const loadAtStart = loadavg();
  try {
    const theirsStarting = startTheirs();
    theirsStarting.catch(() => {}); // awaited below; do not let an early failure go unhandled
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
    log(`server up at ${url} (pid ${server.pid}); ${DURATION} s per scenario after ${WARMUP} s of warm-up, ${CONNECTIONS} connections`);

    const ours = ourTarget(url);
    const { access_token: accessToken } = await passwordGrant(url);
    // Refresh chains, all on the user's one grant with this client.
    const live = await Promise.all(Array.from({ length: CHAINS }, () => passwordGrant(url).then((t) => t.refresh_token)));
    theirs = await theirsStarting;
    log(`oidc-provider up at ${theirs.target.url} (pid ${theirs.child.pid})`);
    await preflight(ours, live, accessToken);
    await checkTheirRotation(theirs);
    // Their chains are minted right before each scenario (their LRU store forgets what is not used).
    const theirChains = async (grantPerChain: boolean) => {
      const minted = await theirs!.mint(CHAINS, grantPerChain);
      await preflight(theirs!.target, minted.refreshTokens, minted.accessToken);
      return minted.refreshTokens;
    };

    await metrics(url);
    await sleep(1000);
    const idleLoop = ((await metrics(url)).xmpp_oauth_nodejs_eventloop_lag_p99_seconds ?? NaN) * 1000;

    // Each of our HTTP scenarios is followed at once by the same load on
    // oidc-provider, so that both see the same machine load as far as possible.
    const rows: Row[] = [];
    const theirRows: Row[] = [];
    log('scenario: refresh_token grant');
    rows.push(await refreshScenario(ours, live));
    log('scenario: refresh_token grant, oidc-provider');
    theirRows.push(await refreshScenario(theirs.target, await theirChains(false)));
    log('scenario: refresh_token grant, oidc-provider, a grant per chain');
    const theirPerChain = await theirChains(true);
    theirRows.push(await refreshScenario(theirs.target, theirPerChain, 'token: refresh_token grant (rotating), a grant per chain'));
    log('scenario: introspection');
    rows.push(await introspectionScenario(ours, await freshAccessToken(ours, live)));
    log('scenario: introspection, oidc-provider');
    theirRows.push(await introspectionScenario(theirs.target, await freshAccessToken(theirs.target, theirPerChain)));
    const theirMemory = await theirs.stats();
    await stopChild(theirs.child);
    const rssMb = async () => ((await metrics(url)).xmpp_oauth_process_resident_memory_bytes ?? NaN) / 2 ** 20;
    const rssBeforeLogins = await rssMb();
    log('scenario: password login');
    rows.push(await passwordScenario(ours));
    const rssAfterLogins = await rssMb();
    log('scenario: in-process token validation');
    rows.push(...(await coreScenarios(configFile, accessToken)));
    log('scenario: extauth bridge');
    const ext = await extauthScenario(configFile, accessToken);
    if (ext) rows.push(ext);

    const final = await metrics(url);
    const rss = (final.xmpp_oauth_process_resident_memory_bytes ?? NaN) / 2 ** 20;
    const heapUsed = (final.xmpp_oauth_nodejs_heap_size_used_bytes ?? NaN) / 2 ** 20;
    const footprint = await redisFootprint(redis.url);

    process.stdout.write(`\nxmpp-oauth benchmark, ${new Date().toISOString()}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; ${DURATION} s per scenario after ${WARMUP} s of warm-up, ${CONNECTIONS} connections\n\n`);
    process.stdout.write(`${table(rows)}\n\n`);
    process.stdout.write(`oidc-provider ${theirVersion()} (in-memory adapter, opaque access tokens, ES256 ID tokens), same load right after ours:\n\n`);
    process.stdout.write(`${table(theirRows)}\n\n`);
    process.stdout.write(`ours / oidc-provider (target: at least 2x on both):\n\n`);
    const [ourRefresh, ourIntrospection] = rows as [Row, Row];
    const [theirRefresh, theirRefreshPerChain, theirIntrospection] = theirRows as [Row, Row, Row];
    const ratios = [
      { label: 'refresh_token grant (rotating), all chains on one grant', ours: ourRefresh, theirs: theirRefresh },
      { label: 'refresh_token grant (rotating), theirs with a grant per chain', ours: ourRefresh, theirs: theirRefreshPerChain },
      { label: 'introspection (access token)', ours: ourIntrospection, theirs: theirIntrospection },
    ];
    process.stdout.write(`${ratioTable(ratios)}\n\n`);
    process.stdout.write(
      `refresh 2xx per second: ours ${ourRefresh.perSecond!.join(' ')}; oidc-provider, one grant ${theirRefresh.perSecond!.join(' ')}; oidc-provider, a grant per chain ${theirRefreshPerChain.perSecond!.join(' ')}\n`,
    );
    process.stdout.write(`oidc-provider RSS after its scenarios: ${(theirMemory.rssBytes / 2 ** 20).toFixed(0)} MB (V8 heap used ${(theirMemory.heapUsedBytes / 2 ** 20).toFixed(0)} MB)\n`);
    process.stdout.write(`server event-loop delay p99 when idle: ${idleLoop.toFixed(1)} ms (prom-client samples every 10 ms, so ~10 ms is an idle loop)\n`);
    process.stdout.write(`server RSS after the benchmark: ${rss.toFixed(0)} MB (target < 150 MB; V8 heap used ${heapUsed.toFixed(0)} MB); ${rssBeforeLogins.toFixed(0)} MB before the password logins, ${rssAfterLogins.toFixed(0)} MB right after them\n`);
    process.stdout.write(`Redis MEMORY USAGE: ${footprint.refreshBytes.toFixed(0)} B per refresh-token key (${footprint.refreshKeys} kept, rotated ones included until expiry) + ${footprint.indexBytesPerEntry.toFixed(0)} B per entry in the grant's refresh-token index (${footprint.indexEntries} entries), ${footprint.grantBytes.toFixed(0)} B per grant hash (${footprint.grants} grants)\n`);
    if (!ext) process.stdout.write('extauth bridge: not measured (the bridge in this build does not answer `auth`; see the log line above)\n');
    const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
    process.stdout.write(`load average at start: ${fmtLoad(loadAtStart)}; at end: ${fmtLoad(loadavg())} (${cpus().length} cores)\n`);
    process.stdout.write(`total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  } finally {
    if (theirs) await stopChild(theirs.child);
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
