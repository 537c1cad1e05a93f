// `npm run soak`: SOAK_MINUTES (default 5) of mixed load against two instances,
// Redis (AOF everysec) and Prosody on loopback while faults happen on a seeded
// schedule (SOAK_SEED); then the accounting. Exit status 1 on a failed verdict.
// Builds dist/ first (the instances run the built CLI) unless SOAK_NO_BUILD=1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { authorizeAcross } from '../test/scale/instances.js';
import { inject, schedule, type Probe } from './faults.js';
import { Ledger } from './ledger.js';
import { codeFlow } from './load/code-flow.js';
import { loop, type LoadContext } from './load/context.js';
import { deviceFlow } from './load/device-flow.js';
import { post, RecordingBrowser } from './load/http.js';
import { introspectStep } from './load/introspect.js';
import { refreshStep } from './load/refresh.js';
import { finalSweep, resurrectionStep } from './load/resurrection.js';
import { revokeStep } from './load/revoke.js';
import { xmppLoginStep } from './load/xmpp-login.js';
import { redisUsedMemory, sample, type Sample } from './metrics.js';
import { rng } from './prng.js';
import { buildReport, printReport } from './report.js';
import { startTopology } from './topology.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const minutes = Number(process.env.SOAK_MINUTES ?? 5);
const seed = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
if (!(minutes > 0) || !Number.isInteger(seed)) {
  console.error('SOAK_MINUTES must be a positive number and SOAK_SEED an integer');
  process.exit(2);
}
const outDir = join(ROOT, 'test-output', 'soak');
mkdirSync(outDir, { recursive: true });

if (process.env.SOAK_NO_BUILD !== '1') {
  console.log('soak: building dist/ (npm run build; SOAK_NO_BUILD=1 skips)');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
} else if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('soak: dist/ is missing; run `npm run build` or drop SOAK_NO_BUILD');
  process.exit(2);
}

const durationMs = minutes * 60_000;
const random = rng(seed);
const plan = schedule(random, durationMs);
console.log(`soak: seed ${seed}, ${minutes} min, faults: ${plan.map((p) => `${p.kind}@${Math.round(p.at / 1000)}s`).join(', ')}`);

const ledger = new Ledger();
const topo = await startTopology(outDir);
let stopping = false;
const ctx: LoadContext = { ledger, topo, rng: random, stopping: () => stopping };

// The probe's own grant, which the load never touches.
const [a, b] = topo.instances;
const { code, verifier } = await authorizeAcross(new RecordingBrowser(ledger, 'setup', topo.instances), a.url, b.url, topo.probeUser);
const probeTokens = await post(ledger, 'setup', a, '/oauth2/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://app.example/cb' });
if (probeTokens.status !== 200) throw new Error(`probe grant: ${probeTokens.status}`);
const probe: Probe = { user: topo.probeUser, access: String(probeTokens.body.access_token) };

const redisMemory: { start?: number; end?: number } = { start: await redisUsedMemory(topo.redis.port) };
const samples: Sample[] = [];
const errors = new Map<string, number>();
const startedAt = Date.now();

// Bounded rates: each generator is one loop (refresh two) with a pause between steps.
const generators = [
  loop(ctx, 'code-flow', 1000, 3000, () => codeFlow(ctx), errors),
  loop(ctx, 'device-flow', 3000, 8000, () => deviceFlow(ctx), errors),
  loop(ctx, 'refresh', 100, 400, () => refreshStep(ctx), errors),
  loop(ctx, 'refresh', 100, 400, () => refreshStep(ctx), errors),
  loop(ctx, 'introspect', 100, 300, () => introspectStep(ctx), errors),
  loop(ctx, 'xmpp-login', 300, 1000, () => xmppLoginStep(ctx), errors),
  loop(ctx, 'revoke', 3000, 6000, () => revokeStep(ctx), errors),
  loop(ctx, 'resurrection', 500, 1500, () => resurrectionStep(ctx), errors),
];
const sampler = (async () => {
  while (!stopping) {
    for (const i of topo.instances) {
      const s = await sample(i);
      if (s) samples.push(s);
    }
    await sleep(5000);
  }
})();
const faults = (async () => {
  for (const p of plan) {
    const wait = startedAt + p.at - Date.now();
    if (wait > 0) await sleep(wait);
    if (Date.now() - startedAt > durationMs) break;
    const w = await inject(p.kind, topo, ledger, probe, random);
    console.log(`soak: ${w.kind} at ${Math.round((w.start - startedAt) / 1000)} s, window ${w.recovered === undefined ? 'NOT RECOVERED' : `${w.recovered - w.start} ms`}${w.detail ? ` (${w.detail})` : ''}`);
  }
})();

await sleep(durationMs);
await faults; // a fault under way finishes, so its window closes
stopping = true;
await Promise.all([...generators, sampler]);
await finalSweep(ctx);
const endedAt = Date.now();
redisMemory.end = await redisUsedMemory(topo.redis.port);
const instanceErrorLines = Object.fromEntries(topo.instances.map((i) => [i.name, i.errorLines]));
await topo.stop();

const report = buildReport({ ledger, seed, minutes, startedAt, endedAt, samples, redisMemory, generatorErrors: Object.fromEntries(errors), instanceErrorLines });
const file = join(outDir, `soak-${new Date(startedAt).toISOString().replace(/[:.]/g, '-')}-seed${seed}.json`);
writeFileSync(file, JSON.stringify(report, null, 2));
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(report, null, 2));
console.log(printReport(report));
console.log(`soak: report in ${file}`);
process.exit(report.pass ? 0 : 1);
