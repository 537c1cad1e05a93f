// What a production server installs: the tarball `npm pack` makes (dist included),
// with runtime dependencies only. No install step may need a dev tool (tsc).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../helpers/ports.js';
import { GiveUp, waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEV_ONLY = ['typescript', 'playwright-core', 'autocannon', 'oidc-provider', 'tsx', 'fast-check'];

/** npm as an operator runs it: none of the npm_* settings of an enclosing `npm test`. */
const npmEnv = () => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && !k.startsWith('XMPP_OAUTH_'))),
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
});
const npm = (args: string[], cwd: string) => run('npm', args, { cwd, env: npmEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
// From the local npm cache where it has the packages (the checkout's own install filled it).
const INSTALL = ['--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'];

/** Starts `<command> serve` in trial mode on a free port, off the XMPP link; resolves once /healthz answers 200. */
async function serves(command: string[], cwd: string): Promise<void> {
  const port = await freePort();
  const [file, ...args] = command;
  const child: ChildProcess = spawn(file!, [...args, 'serve'], {
    cwd,
    env: { PATH: npmEnv().PATH, HOME: process.env.HOME ?? '/tmp', XMPP_OAUTH_HTTP__PORT: String(port), XMPP_OAUTH_XMPP__ENABLED: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  try {
    const status = await waitFor('/healthz', async () => {
      if (child.exitCode !== null) throw new GiveUp(`exited ${child.exitCode}: ${output}`);
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
    }, { timeoutMs: 30_000 });
    assert.equal(status, 200);
  } finally {
    const exited = child.exitCode === null ? once(child, 'exit') : undefined;
    child.kill('SIGTERM');
    await exited;
  }
}

async function assertNoDevDependencies(nodeModules: string): Promise<void> {
  const present = new Set(await readdir(nodeModules));
  assert.deepEqual(DEV_ONLY.filter((name) => present.has(name)), [], 'no dev dependency installed');
}

describe('a production install from npm pack', () => {
  let dir: string;
  let tarball: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xo-pack-'));
    // prepack builds dist/ from the checkout, as a release would.
    await npm(['pack', '--pack-destination', dir, '--silent'], ROOT);
    const made = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
    assert.equal(made.length, 1, `one tarball in ${dir}`);
    tarball = join(dir, made[0]!);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('review #12: npm install -g --omit=dev of the tarball gives a command that serves', async () => {
    const prefix = join(dir, 'prefix');
    await npm(['install', '-g', '--prefix', prefix, ...INSTALL, tarball], dir);
    await assertNoDevDependencies(join(prefix, 'lib', 'node_modules', 'xmpp-oauth', 'node_modules'));
    await serves([join(prefix, 'bin', 'xmpp-oauth')], dir);
  });

  it('review #12: npm ci --omit=dev with the lockfile needs no dev tool, and the result serves', async () => {
    // The unpacked release with the project's lockfile: what `npm ci --omit=dev` on a server sees.
    const app = join(dir, 'app');
    await mkdir(app);
    await run('tar', ['-xzf', tarball, '-C', app, '--strip-components=1']);
    await copyFile(join(ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
    try {
      await npm(['ci', ...INSTALL], app);
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string };
      assert.fail(`npm ci --omit=dev failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
    await assertNoDevDependencies(join(app, 'node_modules'));
    await serves([process.execPath, join(app, 'bin', 'xmpp-oauth.js')], app);
  });
});
