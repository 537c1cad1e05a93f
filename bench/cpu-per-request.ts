// CPU time per answer of each server, scenario by scenario: ours (and its
// redis-server) and oidc-provider, one process each, the same autocannon load
// as `npm run bench`. Requests per second on a shared 2-core machine move with
// whatever else runs; the CPU a server spends per answer moves much less, so
// this is the figure to compare changes with (issue 25).
//   node --import tsx bench/cpu-per-request.ts [refresh|introspection|rejected-secret|discovery ...]
// Environment: as bench/run.ts (BENCH_DURATION, BENCH_CONNECTIONS, BENCH_SERVER_NODE_ARGS, BENCH_NO_BUILD);
// BENCH_EXTRA_CONFIG: YAML lines appended to our server's config (e.g. "id_token_on_refresh: false").
// Each scenario runs once unmeasured (warm-up), then once measured; CPU from /proc/PID/stat (utime + stime, 10 ms ticks).
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/helpers/ports.js';
import { startRedis } from '../test/helpers/redis.js';
import { BIN, CHAINS, DURATION, PASSWORD, ROOT, cleanEnv, freshAccessToken, log, markdown, ourTarget, passwordGrant, startServer, stopChild, stopServer, writeConfig, type Row } from './lib.js';
import { startTheirs } from './theirs.js';
import { discoveryScenario } from './scenarios/discovery.js';
import { introspectionScenario } from './scenarios/introspection.js';
import { refreshScenario } from './scenarios/refresh.js';
import { rejectedSecretScenario } from './scenarios/rejected-secret.js';

/** CPU milliseconds a process has used so far (Linux). */
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const redisPid = (port: number) =>
  Number(readdirSync('/proc').find((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return /^\d+$/.test(p) && cmd.includes('redis-server') && cmd.includes(`:${port}`);
    } catch {
      return false;
    }
  }));

async function measure(pid: number, extraPid: number | undefined, run: () => Promise<Row>) {
  await run(); // warm-up
  const c0 = cpuMs(pid);
  const r0 = extraPid ? cpuMs(extraPid) : 0;
  const row = await run();
  const n = row.rps * DURATION;
  return { rps: row.rps, us: ((cpuMs(pid) - c0) * 1000) / n, redisUs: extraPid ? ((cpuMs(extraPid) - r0) * 1000) / n : 0, errors: row.errors };
}

const which = process.argv.length > 2 ? process.argv.slice(2) : ['refresh', 'introspection', 'rejected-secret', 'discovery'];
if (!process.env.BENCH_NO_BUILD) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
const dir = mkdtempSync(join(tmpdir(), 'xo-cpu-'));
const redis = await startRedis();
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const configFile = writeConfig(dir, port, redis.url);
if (process.env.BENCH_EXTRA_CONFIG) appendFileSync(configFile, `${process.env.BENCH_EXTRA_CONFIG}\n`);
execFileSync(process.execPath, [BIN, 'user', 'add', 'alice@localhost', '--password-stdin', '--config', configFile], { input: `${PASSWORD}\n`, env: cleanEnv(), stdio: ['pipe', 'ignore', 'inherit'] });
const server = await startServer(configFile, url);
const theirs = await startTheirs();
try {
  const ours = ourTarget(url);
  const live = await Promise.all(Array.from({ length: 2 * CHAINS }, () => passwordGrant(url).then((t) => t.refresh_token)));
  const rpid = redisPid(redis.port);
  const rows: string[][] = [];
  for (const s of which) {
    log(`cpu per request: ${s}`);
    let pair: [() => Promise<Row>, () => Promise<Row>];
    if (s === 'refresh') {
      pair = [() => refreshScenario(ours, live), async () => refreshScenario(theirs.target, (await theirs.mint(CHAINS, true)).refreshTokens)];
    } else if (s === 'introspection') {
      const token = await freshAccessToken(ours, live);
      const theirToken = await freshAccessToken(theirs.target, (await theirs.mint(CHAINS, true)).refreshTokens);
      pair = [() => introspectionScenario(ours, token), () => introspectionScenario(theirs.target, theirToken)];
    } else if (s === 'rejected-secret') {
      pair = [() => rejectedSecretScenario(ours), () => rejectedSecretScenario(theirs.target)];
    } else if (s === 'discovery') {
      pair = [() => discoveryScenario(ours), () => discoveryScenario(theirs.target)];
    } else throw new Error(`unknown scenario ${s}`);
    const o = await measure(server.pid!, rpid, pair[0]);
    const t = await measure(theirs.child.pid!, undefined, pair[1]);
    rows.push([
      s,
      `${o.us.toFixed(0)} (+${o.redisUs.toFixed(0)} Redis)`,
      t.us.toFixed(0),
      `${(t.us / o.us).toFixed(2)}x`,
      `${(t.us / (o.us + o.redisUs)).toFixed(2)}x`,
      `${o.rps.toFixed(0)} / ${t.rps.toFixed(0)} = ${(o.rps / t.rps).toFixed(2)}x`,
      `${o.errors} / ${t.errors}`,
    ]);
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`\nCPU µs per answer, ${DURATION} s measured per scenario, load average ${load}\n\n`);
  process.stdout.write(`${markdown(['scenario', 'ours µs', 'oidc-provider µs', 'theirs / ours', 'incl. our Redis', 'req/s ours / theirs', 'errors'], rows)}\n`);
} finally {
  await stopChild(theirs.child);
  await stopServer(server);
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
