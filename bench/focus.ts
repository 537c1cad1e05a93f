// One scenario against our server alone, for profiling:
//   BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node --import tsx bench/focus.ts introspection
// then bench/profile-top.ts on the profile. Scenarios: introspection, rejected-secret, revocation, refresh, discovery.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/helpers/ports.js';
import { startRedis } from '../test/helpers/redis.js';
import { BIN, CHAINS, PASSWORD, cleanEnv, freshAccessToken, log, ourTarget, passwordGrant, startServer, stopServer, table, writeConfig } from './lib.js';
import { discoveryScenario } from './scenarios/discovery.js';
import { introspectionScenario } from './scenarios/introspection.js';
import { refreshScenario } from './scenarios/refresh.js';
import { rejectedSecretScenario } from './scenarios/rejected-secret.js';
import { revocationScenario } from './scenarios/revocation.js';

const which = process.argv[2] ?? 'introspection';
const dir = mkdtempSync(join(tmpdir(), 'xo-focus-'));
const redis = await startRedis();
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const configFile = writeConfig(dir, port, redis.url);
for (const jid of ['alice@localhost', 'bob@localhost']) {
  execFileSync(process.execPath, [BIN, 'user', 'add', jid, '--password-stdin', '--config', configFile], { input: `${PASSWORD}\n`, env: cleanEnv(), stdio: ['pipe', 'ignore', 'inherit'] });
}
const server = await startServer(configFile, url);
try {
  const ours = ourTarget(url);
  const live = await Promise.all(Array.from({ length: CHAINS }, () => passwordGrant(url).then((t) => t.refresh_token)));
  const run = {
    introspection: async () => introspectionScenario(ours, await freshAccessToken(ours, live)),
    'rejected-secret': () => rejectedSecretScenario(ours),
    revocation: async () => revocationScenario(ours, (await passwordGrant(url, 'bob@localhost')).access_token),
    refresh: () => refreshScenario(ours, live),
    discovery: () => discoveryScenario(ours),
  }[which];
  if (!run) throw new Error(`unknown scenario ${which}`);
  log(`focus: ${which}`);
  process.stdout.write(`${table([await run()])}\n`);
} finally {
  await stopServer(server);
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
