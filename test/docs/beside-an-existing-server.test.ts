// docs/beside-an-existing-server.md runs as written: a second Prosody and a
// second ejabberd, each set up, started, asked and stopped through its own
// config, pid file, node name and ports. Paths are moved into a temporary
// folder and ports to free ones; the system's own servers are never touched.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { Session, shellBlocks } from './shell-doc.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOC = join(ROOT, 'docs', 'beside-an-existing-server.md');

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    sock.once('connect', () => (sock.destroy(), resolve(true)));
    sock.once('error', () => (sock.destroy(), resolve(false)));
  });

/** Whether a process we started is still there. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('review #12: docs/beside-an-existing-server.md runs as written', { timeout: 180_000 }, () => {
  const blocks = shellBlocks(readFileSync(DOC, 'utf8'));
  let dir: string;
  let session: Session;
  let substitutions: Array<[string, string]>;
  let ports: { c2s: number; component: number; dist: number };
  const started: ChildProcess[] = [];
  const pidFiles: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'beside-'));
    chmodSync(dir, 0o755);
    // Our module where getting-started step 5 put it.
    mkdirSync(join(dir, 'modules'));
    cpSync(join(ROOT, 'contrib', 'prosody', 'mod_auth_xmpp_oauth'), join(dir, 'modules', 'mod_auth_xmpp_oauth'), { recursive: true });
    chmodSync(join(dir, 'modules'), 0o755);
    ports = { c2s: await freePort(), component: await freePort(), dist: await freePort() };
    substitutions = [
      ...['/etc/prosody-trial', '/var/lib/prosody-trial', '/var/log/prosody-trial', '/run/prosody-trial', '/etc/ejabberd-trial', '/var/lib/ejabberd-trial', '/var/log/ejabberd-trial'].map(
        (p): [string, string] => [p, join(dir, p.slice(1).replace(/\//g, '-'))],
      ),
      ['/usr/local/lib/prosody/modules', join(dir, 'modules')],
      ['5322', String(ports.c2s)],
      ['5447', String(ports.component)],
      ['ERL_DIST_PORT=4370', `ERL_DIST_PORT=${ports.dist}`],
      // Unique per run, so a leftover of an earlier run cannot answer for this one.
      ['ejabberd-trial@localhost', `ejabberd-trial${process.pid}@localhost`],
    ];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_')));
    session = new Session(ROOT, env);
  });
  after(() => {
    session?.stop();
    // Only what this test started, by its own pid or the pid file its own server wrote.
    for (const child of started) if (child.pid !== undefined && alive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    for (const file of pidFiles) {
      const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
      if (Number.isInteger(pid) && pid > 1 && alive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const moved = (code: string) => substitutions.reduce((c, [from, to]) => c.split(from).join(to), code);
  const section = (name: string) => blocks.filter((b) => b.section === name);

  /** A skipped foreground command, started in the background exactly as written (moved), in its own process group. */
  const startInBackground = (code: string): ChildProcess => {
    const command = moved(code).replace(/\\\n\s*/g, '');
    const child = spawn('bash', ['-c', command], { detached: true, stdio: 'ignore' });
    started.push(child);
    return child;
  };

  it('review #12: a second Prosody: its own config passes check config, it serves its own ports, and its own stop stops it', async () => {
    let outputs = '';
    let prosody: ChildProcess | undefined;
    for (const b of section('Prosody')) {
      if (b.skip) {
        assert.match(b.code, /prosody -F --config \/etc\/prosody-trial\/prosody\.cfg\.lua/);
        prosody = startInBackground(b.code);
        await waitFor('the second Prosody listening', async () => (await listening(ports.c2s)) && (await listening(ports.component)), { timeoutMs: 20_000, intervalMs: 100 });
        continue;
      }
      outputs += await session.run(moved(b.code));
    }
    assert.match(outputs, /All checks passed/);
    assert.ok(prosody, 'the page starts it');
    // The page's stop command ended it, by its own pid file.
    await waitFor('the second Prosody gone', async () => !(await listening(ports.c2s)), { timeoutMs: 15_000 });
    // Its log is in its own folder.
    const log = readFileSync(join(dir, 'var-log-prosody-trial', 'prosody.log'), 'utf8');
    assert.match(log, /trial\.example\.org/);
  });

  it('review #12: a second ejabberd: its own node name, folders and ports; status and stop reach it, not the system\'s', async () => {
    let outputs = '';
    pidFiles.push(join(dir, 'var-lib-ejabberd-trial', 'ejabberd.pid'));
    for (const b of section('ejabberd')) {
      if (b.skip) {
        assert.match(b.code, /ejabberdctl --config-dir \/etc\/ejabberd-trial/);
        startInBackground(b.code);
        await waitFor('the second ejabberd listening', async () => (await listening(ports.c2s)) && (await listening(ports.component)), { timeoutMs: 60_000, intervalMs: 200 });
        continue;
      }
      outputs += await session.run(moved(b.code), 90_000);
    }
    assert.match(outputs, new RegExp(`ejabberd-trial${process.pid}@localhost`), 'status names the second node');
    assert.match(outputs, /is started with status: started/);
    await waitFor('the second ejabberd gone', async () => !(await listening(ports.c2s)), { timeoutMs: 60_000, intervalMs: 200 });
    assert.ok(existsSync(join(dir, 'var-log-ejabberd-trial', 'ejabberd.log')), 'logs in its own folder');
  });
});
