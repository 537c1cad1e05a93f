// `serve` on SIGHUP: re-reads its config file, applies what can change while
// running, says what needs a restart, and refuses a bad file without stopping.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { BIN, runCli, type LogLine } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { GiveUp, waitFor } from '../helpers/wait.js';

const PASSWORD = 'correct horse battery staple';
const client = (id: string, secret: string) => ({
  id,
  name: `App ${id}`,
  secret_hash: `sha256:${createHash('sha256').update(secret).digest('hex')}`,
  grant_types: ['password'],
  scope: 'openid xmpp',
});
// Discovery is lazy: nothing listens at these issuers, and the login page lists the names alone.
const provider = (id: string, name: string) => ({ id, name, issuer: `http://127.0.0.1:9/${id}`, client_id: 'xmpp-oauth' });

describe('xmpp-oauth serve and SIGHUP', () => {
  let redis: RedisInstance;
  let dir: string;
  let file: string;
  let port: number;
  let child: ChildProcessWithoutNullStreams;
  let lines: LogLine[] = [];
  const children: ChildProcessWithoutNullStreams[] = [];

  /** `serve` as systemd starts it, collecting its JSON log lines. */
  const start = (configFile: string, args: string[] = []) => {
    const proc = spawn(process.execPath, [BIN, '--config', configFile, 'serve', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' } });
    children.push(proc);
    const seen: LogLine[] = [];
    let buffer = '';
    proc.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        seen.push(JSON.parse(buffer.slice(0, nl)) as LogLine);
        buffer = buffer.slice(nl + 1);
      }
    });
    proc.stderr.on('data', (d: Buffer) => (stderrOf.set(proc, (stderrOf.get(proc) ?? '') + d.toString())));
    return { child: proc, lines: seen };
  };
  const stderrOf = new Map<ChildProcessWithoutNullStreams, string>();

  const config = (over: Record<string, unknown> = {}) => ({
    http: { host: '127.0.0.1', port },
    redis: { url: redis.url },
    cookie_secrets: ['a cookie secret of at least thirty-two characters'],
    xmpp: { enabled: false, hosts: ['localhost'] },
    allowed_grant_types: ['authorization_code', 'refresh_token', 'password'],
    clients: [client('app-a', 'secret-a')],
    upstream: { providers: [provider('one', 'Provider One')] },
    log: { level: 'info' },
    ...over,
  });
  const token = (id: string, secret: string) =>
    fetch(`http://127.0.0.1:${port}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid xmpp' }),
    });
  /** The next log line after `from` that matches, waiting for it. */
  const logLine = (from: number, what: string, pred: (l: LogLine) => boolean, proc = child, seen = lines) =>
    waitFor(what, () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new GiveUp(`serve ended (${proc.exitCode ?? proc.signalCode}): ${stderrOf.get(proc) ?? ''}`);
      return seen.slice(from).find(pred);
    }, { timeoutMs: 20_000 });

  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'xo-sighup-'));
    file = join(dir, 'config.yml');
    port = await freePort();
    await writeFile(file, stringify(config()));
    const added = await runCli(['--config', file, 'user', 'add', 'alice@localhost', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(added.code, 0, added.stderr);
    ({ child, lines } = start(file));
    await logLine(0, 'HTTP listening', (l) => l.msg === 'HTTP listening');
  });
  after(async () => {
    for (const proc of children) {
      if (proc.exitCode !== null || proc.signalCode !== null) continue;
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      await exited;
    }
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('review #12: SIGHUP applies new clients, providers, admins and log level, and names what needs a restart', async () => {
    assert.equal((await token('app-a', 'secret-a')).status, 200);
    assert.equal((await token('app-b', 'secret-b')).status, 401, 'app-b is not configured yet');
    await logLine(0, 'the info line of a refused request', (l) => l.msg === 'oauth request refused' && l.level === 'info');
    const login = async () => (await fetch(`http://127.0.0.1:${port}/account`, { headers: { accept: 'text/html' } })).text();
    assert.match(await login(), /Provider One/);

    const newPort = await freePort();
    await writeFile(
      file,
      stringify(
        config({
          http: { host: '127.0.0.1', port: newPort },
          clients: [client('app-a', 'secret-a'), client('app-b', 'secret-b')],
          upstream: { providers: [provider('two', 'Provider Two')] },
          admins: ['root@localhost'],
          log: { level: 'warn' },
        }),
      ),
    );
    const from = lines.length;
    child.kill('SIGHUP');
    const reloaded = await logLine(from, 'the reload line', (l) => String(l.msg).startsWith('config reloaded'));
    assert.equal(reloaded.level, 'info');
    assert.deepEqual([...(reloaded.reloaded as string[])].sort(), ['admins', 'clients', 'log.level', 'upstream.providers']);
    // The issuer follows http.port when not set: both keep their running values.
    assert.deepEqual([...(reloaded.needs_restart as string[])].sort(), ['http.port', 'issuer']);
    assert.deepEqual(reloaded.clients, { added: ['app-b'], removed: [], changed: [] });
    assert.deepEqual(reloaded.providers, { added: ['two'], removed: ['one'], changed: [] });
    assert.deepEqual(reloaded.admins, { added: ['root@localhost'], removed: [] });
    assert.match(String(reloaded.msg), /needs a restart to change http\.port, issuer/);

    // Still on the old port, now with the new client, provider list and log level.
    const answer = await token('app-b', 'secret-b');
    assert.equal(answer.status, 200);
    assert.ok(((await answer.json()) as { access_token?: string }).access_token);
    const page = await login();
    assert.match(page, /Provider Two/);
    assert.doesNotMatch(page, /Provider One/);
    const afterReload = lines.length;
    assert.equal((await token('app-c', 'secret-c')).status, 401);

    // A bad file is refused at error, naming the key; the running config stays.
    await writeFile(file, stringify({ ...config(), clients: [client('app-a', 'secret-a')], htpp: { port: 1 } }));
    const refusedFrom = lines.length;
    child.kill('SIGHUP');
    const refused = await logLine(refusedFrom, 'the refusal', (l) => String(l.msg).startsWith('config reload refused'));
    assert.equal(refused.level, 'error');
    assert.match(String(refused.msg), /htpp: unknown option/);
    assert.equal((await token('app-b', 'secret-b')).status, 200, 'app-b is still configured');
    assert.equal(child.exitCode, null);
    // At warn, the refused request of app-c left no info line.
    assert.deepEqual(lines.slice(afterReload).filter((l) => l.level === 'info'), []);
    // No secret of the config reached the log.
    assert.doesNotMatch(JSON.stringify(lines), /secret-[abcd]|component secret|thirty-two characters/);
  });

  it('review #12: with --workers, SIGHUP to the primary reloads every worker', async () => {
    const workersFile = join(dir, 'workers.yml');
    const workersPort = await freePort();
    // Worker 1 holds the component link (nothing listens there: it retries); worker 2 runs without it.
    const xmpp = { enabled: true, hosts: ['localhost'], service: `xmpp://127.0.0.1:${await freePort()}`, secret: 'component secret' };
    await writeFile(workersFile, stringify(config({ http: { host: '127.0.0.1', port: workersPort }, xmpp })));
    const primary = start(workersFile, ['--workers', '2']);
    const ready = (l: LogLine) => l.msg === 'all workers serving';
    await logLine(0, 'all workers serving', ready, primary.child, primary.lines);
    await writeFile(workersFile, stringify(config({ http: { host: '127.0.0.1', port: workersPort }, xmpp, clients: [client('app-a', 'secret-a'), client('app-d', 'secret-d')] })));
    const from = primary.lines.length;
    primary.child.kill('SIGHUP');
    const reloads = await waitFor('a reload line from each worker', () => {
      const got = primary.lines.slice(from).filter((l) => String(l.msg).startsWith('config reloaded'));
      return got.length >= 2 && got;
    }, { timeoutMs: 20_000 });
    assert.deepEqual(reloads.map((l) => l.worker).sort(), [1, 2]);
    for (const l of reloads) {
      assert.deepEqual(l.reloaded, ['clients']);
      assert.deepEqual(l.needs_restart, [], 'worker 2 is told nothing about the link it never had');
    }
    // Whichever worker answers, it knows app-d.
    for (let i = 0; i < 4; i++) {
      const answer = await fetch(`http://127.0.0.1:${workersPort}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('app-d:secret-d').toString('base64')}`, connection: 'close' },
        body: new URLSearchParams({ grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid xmpp' }),
      });
      assert.equal(answer.status, 200);
    }
  });
});
