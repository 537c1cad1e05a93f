// `npm run bench`: the server as operators run it (built CLI, its own process,
// real redis-server), driven by autocannon; plus the core token check measured
// in-process. In the same run panva's oidc-provider (bench/oidc-provider-server.ts,
// its own process, in-memory adapter) gets the same load, each scenario right
// after ours, and a table prints our throughput divided by theirs. Then the
// same HTTP scenarios against `serve --workers auto`, reported on their own
// (the one-process figure is the one compared with oidc-provider's one process).
// One file per scenario under bench/scenarios/; shared pieces in bench/lib.ts.
//
// Environment: BENCH_DURATION (seconds per scenario, default 5),
// BENCH_WARMUP (seconds of the same load, not measured, before each HTTP
// scenario, default 2), BENCH_CONNECTIONS (default 16), BENCH_NO_BUILD=1 to
// skip `npm run build`, BENCH_SERVER_NODE_ARGS (extra node flags for our
// server process only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`),
// BENCH_WORKERS (what `--workers` gets in the workers part, default auto; 0 skips it),
// BENCH_ROUNDS (alternated rounds of each compared scenario, ours then
// theirs, default 2; the ratio uses the mean of the rounds and each round's
// ratio is printed beside it),
// BENCH_ONLY=compare (only the scenarios compared with oidc-provider: for quick
// before/after checks while working on the back channel), BENCH_ONLY=xmpp (only
// the logins through Prosody: no oidc-provider, no HTTP scenarios, no workers),
// BENCH_PROSODY (the Prosody of the XMPP comparison: 0.12, the default, 13, or
// both; `both` applies to BENCH_ONLY=xmpp, a whole run uses the first),
// BENCH_XMPP_KINDS (a comma-separated subset of the XMPP kinds: limit, token,
// app, bearer, hashed, sha1, sha256, password; for profiling one of them).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/helpers/ports.js';
import { startRedis, type RedisInstance } from '../test/helpers/redis.js';
import {
  BIN, CHAINS, CONNECTIONS, DURATION, PASSWORD, ROOT, ROUNDS, WARMUP, combine, cleanEnv, freshAccessToken, log, markdown, metrics, ourTarget, passwordGrant,
  preflight, ratioTable, startServer, stopChild, stopServer, table, theirVersion, writeConfig, type Row,
} from './lib.js';
import { checkTheirRotation, startTheirs, type Theirs } from './theirs.js';
import { coreScenarios } from './scenarios/core.js';
import { discoveryScenario } from './scenarios/discovery.js';
import { extauthScenario } from './scenarios/extauth.js';
import { redisFootprint } from './scenarios/footprint.js';
import { introspectionScenario } from './scenarios/introspection.js';
import { passwordScenario } from './scenarios/password.js';
import { refreshScenario } from './scenarios/refresh.js';
import { rejectedSecretScenario } from './scenarios/rejected-secret.js';
import { revocationScenario } from './scenarios/revocation.js';
import { benchProsodyVersions, cpuTable, linkOnline, makeAppPassword, passwordCostLine, startBenchProsody, xmppLoginComparison, xmppSection, type XmppComparison } from './scenarios/xmpp-login.js';
import type { ProsodyInstance } from '../test/helpers/prosody.js';

const COMPARE_ONLY = process.env.BENCH_ONLY === 'compare';
const XMPP_ONLY = process.env.BENCH_ONLY === 'xmpp';
const WORKERS = COMPARE_ONLY || XMPP_ONLY ? '0' : process.env.BENCH_WORKERS ?? 'auto';

function addUser(configFile: string, jid: string): void {
  execFileSync(process.execPath, [BIN, 'user', 'add', jid, '--password-stdin', '--config', configFile], {
    input: `${PASSWORD}\n`,
    env: cleanEnv(),
    stdio: ['pipe', 'ignore', 'inherit'],
  });
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
  let clustered: ChildProcess | undefined;
  let theirs: Theirs | undefined;
  let prosody: ProsodyInstance | null = null;
  const loadAtStart = loadavg();
  try {
    const theirsStarting = XMPP_ONLY ? undefined : startTheirs();
    theirsStarting?.catch(() => {}); // awaited below; do not let an early failure go unhandled
    redis = await startRedis();
    // The server links to a real Prosody 0.12 for the XMPP path figures (skipped if Prosody cannot start here).
    prosody = COMPARE_ONLY ? null : await startBenchProsody(benchProsodyVersions()[0]);
    const xmpp = prosody ? xmppSection(prosody) : undefined;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const configFile = writeConfig(dir, port, redis.url, xmpp);
    addUser(configFile, 'alice@localhost');
    // Bob's grant is the one the revocation scenario ends.
    addUser(configFile, 'bob@localhost');
    server = await startServer(configFile, url);
    log(`server up at ${url} (pid ${server.pid}); ${DURATION} s per scenario after ${WARMUP} s of warm-up, ${CONNECTIONS} connections`);

    const ours = ourTarget(url);
    const { access_token: accessToken } = await passwordGrant(url);
    if (XMPP_ONLY) {
      if (!prosody) throw new Error('BENCH_ONLY=xmpp needs Prosody (see the log line above)');
      const comparisons: XmppComparison[] = [];
      for (const [i, version] of benchProsodyVersions().entries()) {
        if (i > 0) {
          // The next Prosody gets a server of its own, on the same Redis and accounts.
          await stopServer(server);
          await prosody?.stop();
          prosody = await startBenchProsody(version);
          if (!prosody) continue;
          writeConfig(dir, port, redis.url, xmppSection(prosody));
          server = await startServer(configFile, url);
        }
        if (!(await linkOnline(url))) throw new Error(`the component link to Prosody ${version} did not come up`);
        log(`scenario: logins through Prosody ${version}`);
        const { access_token } = await passwordGrant(url);
        comparisons.push(await xmppLoginComparison(prosody!, { accessToken: access_token, appPassword: await makeAppPassword(configFile, 'alice@localhost') }, server!.pid));
      }
      process.stdout.write(`\nxmpp-oauth benchmark (BENCH_ONLY=xmpp), ${new Date().toISOString()}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; each login scenario ${Math.max(2, Math.round(DURATION * 0.6))} s (0.6 x BENCH_DURATION), ${ROUNDS} alternated rounds\n\n`);
      for (const c of comparisons) process.stdout.write(`${table(c.rows)}\n\n${xmppRatios(c)}\n\nCPU per login (from /proc, 10 ms ticks over each scenario):\n\n${cpuTable(c)}\n\n`);
      const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
      process.stdout.write(`load average at start: ${fmtLoad(loadAtStart)}; at end: ${fmtLoad(loadavg())} (${cpus().length} cores)\n`);
      process.stdout.write(`total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      return;
    }
    // Refresh chains, all on the user's one grant with this client.
    const live = await Promise.all(Array.from({ length: CHAINS }, () => passwordGrant(url).then((t) => t.refresh_token)));
    theirs = await theirsStarting!;
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
    // ROUNDS alternated rounds (ours, theirs, ours, theirs, …): a burst of load
    // from the machine's neighbours then shows as one odd round, not as the figure.
    const rows: Row[] = [];
    const pairs: Array<{ label: string; ours: Row; theirs: Row; rounds: number[] }> = [];
    const pair = async (label: string, oursRun: () => Promise<Row>, theirsRun: () => Promise<Row>) => {
      const o: Row[] = [];
      const t: Row[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        log(`scenario: ${label}, round ${round}`);
        o.push(await oursRun());
        log(`scenario: ${label}, oidc-provider, round ${round}`);
        t.push(await theirsRun());
      }
      rows.push(combine(o));
      pairs.push({ label, ours: combine(o), theirs: combine(t), rounds: o.map((r, i) => r.rps / t[i]!.rps) });
    };

    const ourRefreshRounds: Row[] = [];
    const theirRefreshRounds: Row[] = [];
    const theirPerChainRounds: Row[] = [];
    let theirPerChain: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      log(`scenario: refresh_token grant, round ${round}`);
      ourRefreshRounds.push(await refreshScenario(ours, live));
      log(`scenario: refresh_token grant, oidc-provider, round ${round}`);
      theirRefreshRounds.push(await refreshScenario(theirs.target, await theirChains(false)));
      log(`scenario: refresh_token grant, oidc-provider, a grant per chain, round ${round}`);
      theirPerChain = await theirChains(true);
      theirPerChainRounds.push(await refreshScenario(theirs.target, theirPerChain, 'token: refresh_token grant (rotating), a grant per chain'));
    }
    const ourRefresh = combine(ourRefreshRounds);
    const theirRefresh = combine(theirRefreshRounds);
    const theirRefreshPerChain = combine(theirPerChainRounds);
    rows.push(ourRefresh);
    const each = (theirsRounds: Row[]) => ourRefreshRounds.map((r, i) => r.rps / theirsRounds[i]!.rps);
    pairs.push({ label: 'refresh_token grant (rotating), all chains on one grant', ours: ourRefresh, theirs: theirRefresh, rounds: each(theirRefreshRounds) });
    pairs.push({ label: 'refresh_token grant (rotating), theirs with a grant per chain', ours: ourRefresh, theirs: theirRefreshPerChain, rounds: each(theirPerChainRounds) });
    const ourToken = await freshAccessToken(ours, live);
    const theirToken = await freshAccessToken(theirs.target, theirPerChain);
    await pair('introspection (access token)', () => introspectionScenario(ours, ourToken), () => introspectionScenario(theirs!.target, theirToken));
    await pair('rejected client secret (401 path)', () => rejectedSecretScenario(ours), () => rejectedSecretScenario(theirs!.target));
    await pair('discovery document', () => discoveryScenario(ours), () => discoveryScenario(theirs!.target));
    const bobs = await passwordGrant(url, 'bob@localhost');
    const theirsToRevoke = (await theirs.mint(1, false)).accessToken;
    await pair('revocation (RFC 7009, access token; grant ended by the first)', () => revocationScenario(ours, bobs.access_token), () => revocationScenario(theirs!.target, theirsToRevoke));
    const theirMemory = await theirs.stats();
    await stopChild(theirs.child);

    const rssMb = async () => ((await metrics(url)).xmpp_oauth_process_resident_memory_bytes ?? NaN) / 2 ** 20;
    const rssBeforeLogins = await rssMb();
    if (!COMPARE_ONLY) {
      log('scenario: password login');
      rows.push(await passwordScenario(ours));
    }
    const rssAfterLogins = await rssMb();
    if (!COMPARE_ONLY) {
      log('scenario: in-process token validation');
      rows.push(...(await coreScenarios(configFile, accessToken)));
    }
    log(COMPARE_ONLY ? 'extauth bridge: skipped (BENCH_ONLY=compare)' : 'scenario: extauth bridge');
    const ext = COMPARE_ONLY ? null : await extauthScenario(configFile, accessToken);
    if (ext) rows.push(ext);
    let logins: XmppComparison | undefined;
    if (prosody) {
      log('scenario: logins through Prosody');
      if (await linkOnline(url)) {
        logins = await xmppLoginComparison(prosody, { accessToken, appPassword: await makeAppPassword(configFile, 'alice@localhost') }, server.pid);
        rows.push(...logins.rows);
      } else log('XMPP scenarios skipped: the component link did not come up');
    }

    const final = await metrics(url);
    const rss = (final.xmpp_oauth_process_resident_memory_bytes ?? NaN) / 2 ** 20;
    const heapUsed = (final.xmpp_oauth_nodejs_heap_size_used_bytes ?? NaN) / 2 ** 20;
    const footprint = await redisFootprint(redis.url);
    await stopServer(server);
    server = undefined;

    // The same HTTP scenarios on `serve --workers`, same Redis, one after the other.
    const workerRows: Row[] = [];
    const workerCount = WORKERS === 'auto' ? availableParallelism() : Number(WORKERS);
    if (WORKERS !== '0') {
      const wport = await freePort();
      const wurl = `http://127.0.0.1:${wport}`;
      const wdir = join(dir, 'workers');
      mkdirSync(wdir);
      // The same link settings: the first server has stopped, and worker 1 takes the one component slot.
      const wconfig = writeConfig(wdir, wport, redis.url, xmpp);
      clustered = await startServer(wconfig, wurl, ['--workers', WORKERS]);
      log(`server with --workers ${WORKERS} up at ${wurl}`);
      const wt = ourTarget(wurl);
      const { access_token: wtoken } = await passwordGrant(wurl);
      const wlive = await Promise.all(Array.from({ length: CHAINS }, () => passwordGrant(wurl).then((t) => t.refresh_token)));
      await preflight(wt, wlive, wtoken);
      log('workers: refresh_token grant');
      workerRows.push(await refreshScenario(wt, wlive));
      const wfresh = await freshAccessToken(wt, wlive);
      log('workers: introspection');
      workerRows.push(await introspectionScenario(wt, wfresh));
      log('workers: rejected client secret');
      workerRows.push(await rejectedSecretScenario(wt));
      log('workers: discovery');
      workerRows.push(await discoveryScenario(wt));
      const wbob = await passwordGrant(wurl, 'bob@localhost');
      log('workers: revocation');
      workerRows.push(await revocationScenario(wt, wbob.access_token));
    }

    process.stdout.write(`\nxmpp-oauth benchmark, ${new Date().toISOString()}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; ${DURATION} s per scenario after ${WARMUP} s of warm-up, ${CONNECTIONS} connections; compared scenarios in ${ROUNDS} alternated rounds\n\n`);
    process.stdout.write(`One process (\`serve\`):\n\n${table(rows)}\n\n`);
    process.stdout.write(`oidc-provider ${theirVersion()} (in-memory adapter, opaque access tokens, ES256 ID tokens), same load right after ours:\n\n`);
    process.stdout.write(`${table([theirRefresh, theirRefreshPerChain, ...pairs.slice(2).map((p) => p.theirs)])}\n\n`);
    process.stdout.write(`ours (one process) / oidc-provider (targets, issue 16: 2x on introspection, revocation, the 401 path and refresh; 1.5x on discovery):\n\n`);
    process.stdout.write(`${ratioTable(pairs)}\n\n`);
    if (logins) process.stdout.write(`${xmppRatios(logins)}\n\nCPU per login (from /proc, 10 ms ticks over each scenario):\n\n${cpuTable(logins)}\n\n`);
    if (workerRows.length) {
      process.stdout.write(`\`serve --workers ${WORKERS}\` (${workerCount} workers), same machine, after the rest (not compared with oidc-provider's one process):\n\n${table(workerRows)}\n\n`);
      const byName = new Map(rows.map((r) => [r.scenario, r]));
      const scale = workerRows.map((w) => [w.scenario, `${(w.rps / (byName.get(w.scenario)?.rps ?? NaN)).toFixed(2)}x`]);
      process.stdout.write(`workers / one process:\n\n${markdown(['scenario', 'ratio'], scale)}\n\n`);
    }
    process.stdout.write(
      `refresh 2xx per second: ours ${ourRefresh.perSecond!.join(' ')}; oidc-provider, one grant ${theirRefresh.perSecond!.join(' ')}; oidc-provider, a grant per chain ${theirRefreshPerChain.perSecond!.join(' ')}\n`,
    );
    process.stdout.write(`oidc-provider RSS after its scenarios: ${(theirMemory.rssBytes / 2 ** 20).toFixed(0)} MB (V8 heap used ${(theirMemory.heapUsedBytes / 2 ** 20).toFixed(0)} MB)\n`);
    process.stdout.write(`server event-loop delay p99 when idle: ${idleLoop.toFixed(1)} ms (prom-client samples every 10 ms, so ~10 ms is an idle loop)\n`);
    process.stdout.write(`server RSS after the benchmark: ${rss.toFixed(0)} MB (target < 150 MB; V8 heap used ${heapUsed.toFixed(0)} MB); ${rssBeforeLogins.toFixed(0)} MB before the password logins, ${rssAfterLogins.toFixed(0)} MB right after them\n`);
    process.stdout.write(`Redis MEMORY USAGE: ${footprint.refreshBytes.toFixed(0)} B per refresh-token key (${footprint.refreshKeys} kept, rotated ones included until expiry) + ${footprint.indexBytesPerEntry.toFixed(0)} B per entry in the grant's refresh-token index (${footprint.indexEntries} entries), ${footprint.grantBytes.toFixed(0)} B per grant hash (${footprint.grants} grants)\n`);
    if (!ext && !COMPARE_ONLY) process.stdout.write('extauth bridge: not measured (the bridge in this build does not answer `auth`; see the log line above)\n');
    const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
    process.stdout.write(`load average at start: ${fmtLoad(loadAtStart)}; at end: ${fmtLoad(loadavg())} (${cpus().length} cores)\n`);
    process.stdout.write(`total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  } finally {
    if (theirs) await stopChild(theirs.child);
    for (const child of [server, clustered]) {
      if (!child) continue;
      const code = await stopServer(child);
      if (code !== 0) log(`server exited with ${code} on SIGTERM`);
    }
    await prosody?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Issue 25: logins through our module / the same Prosody deciding alone (internal_plain; internal_hashed for SCRAM). */
function xmppRatios(c: XmppComparison): string {
  const cost = passwordCostLine(c.passwordCost);
  return `XMPP logins through our module / the same Prosody deciding alone, ${ROUNDS} alternated rounds (ratio of the mean logins/s, then each round's; targets: >= 0.9x one at a time, >= 1.0x at 16):\n\n${ratioTable(c.pairs, ['ours', 'Prosody alone', 'ours', 'alone'])}${cost ? `\n\n${cost}` : ''}`;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
