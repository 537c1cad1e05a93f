// Issue 23: docs/migration.md runs as written. An "existing server": Debian's own
// Prosody 0.12 configuration plus a VirtualHost example.org with the default
// internal_hashed, whose accounts prosodyctl made, running on free ports. The
// page's ```sh blocks then run in order in one bash session (paths moved into a
// temporary folder by substitution, as in getting-started.test.ts), with the real
// CLI and a real Redis; the blocks marked skip (systemd) are done by the test on
// the throwaway Prosody. Afterwards every account logs in with its old password
// pinned to SCRAM-SHA-1 through our module. The system's Prosody is never
// touched: every prosody and prosodyctl call names a throwaway config.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { verifierMatches } from '../../src/accounts/scram.js';
import { Redis } from 'ioredis';
import { createStore } from '../../src/store/index.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import type { Store } from '../../src/store/types.js';
import { BIN, serveProcess, type ServeProcess } from '../helpers/cli.js';
import { pinnedLogin } from '../helpers/pinned-login.js';
import { exportXep0227 } from '../helpers/prosody-accounts.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { rawSasl } from '../helpers/xmpp-client.js';
import { Session, shellBlocks, type Block } from './shell-doc.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOC = join(ROOT, 'docs', 'migration.md');
const GETTING_STARTED = join(ROOT, 'docs', 'getting-started.md');
const DEBIAN_PROSODY = '/etc/prosody';
/** alice's password is the one the page's login check types. */
const USERS: Record<string, string> = {
  alice: 'correct horse battery staple',
  bob: 'bob p\u00e4ssword \u00fcml\u00e4ut',
  carol: 'c4rol-Passw0rd!',
};

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    sock.once('connect', () => (sock.destroy(), resolve(true)));
    sock.once('error', () => (sock.destroy(), resolve(false)));
  });

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('issue 23: docs/migration.md runs as written against a Prosody 0.12 with internal_hashed accounts', { timeout: 300_000 }, () => {
  const blocks = shellBlocks(readFileSync(DOC, 'utf8'));
  let dir: string;
  let etc: string;
  let wrapper: string;
  let redis: RedisInstance;
  let store: Store;
  let session: Session;
  let server: ServeProcess | undefined;
  let prosody: { log: () => string; stop: () => Promise<void> } | undefined;
  let substitutions: Array<[string, string]>;
  let ports: { c2s: number; component: number };
  const target = () => ({ port: ports.c2s, domain: 'example.org' });

  /**
   * The throwaway Prosody: the configuration in `etc` (Debian's, plus what the page
   * added), moved off the system's data, pid file, log and ports by a wrapper that
   * Includes it. The wrapper also lets the pinned test client log in without TLS
   * on loopback (c2s_require_encryption = false); the page's own check uses TLS.
   */
  const startProsody = async (withComponent: boolean) => {
    execFileSync('chown', ['-R', 'prosody:prosody', join(dir, 'run'), join(dir, 'data')]);
    const child: ChildProcess = spawn('runuser', ['-u', 'prosody', '--', 'prosody', '-F', '--config', wrapper], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const logFile = join(dir, 'run', 'prosody.log');
    const log = () => output + (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
    const stop = async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGTERM');
      await waitFor('Prosody stopped', async () => !(await listening(ports.c2s)), { timeoutMs: 15_000, intervalMs: 100 });
    };
    await waitFor('Prosody listening', async () => {
      if (child.exitCode !== null) throw new Error(`prosody exited ${child.exitCode}:\n${log().slice(-3000)}`);
      return (await listening(ports.c2s)) && (!withComponent || (await listening(ports.component)));
    }, { timeoutMs: 20_000, intervalMs: 100 }).catch(async (err: Error) => {
      await stop().catch(() => {});
      throw new Error(`${err.message}\n${log().slice(-3000)}`);
    });
    prosody = { log, stop };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'migration-'));
    chmodSync(dir, 0o755);
    for (const sub of ['bin', 'data', 'run', 'modules']) mkdirSync(join(dir, sub));
    symlinkSync(BIN, join(dir, 'bin', 'xmpp-oauth')); // what `npm link` makes, on our PATH only
    redis = await startRedis();
    store = createStore({ redisUrl: redis.url });
    ports = { c2s: await freePort(), component: await freePort() };

    // The existing server: Debian's configuration, a VirtualHost example.org in conf.d, a certificate.
    etc = join(dir, 'etc', 'prosody');
    cpSync(DEBIAN_PROSODY, etc, { recursive: true, filter: (src) => !src.includes('/certs') });
    writeFileSync(join(etc, 'conf.d', 'example.org.cfg.lua'), 'VirtualHost "example.org"\n');
    mkdirSync(join(etc, 'certs'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=example.org',
      '-addext', 'subjectAltName=DNS:example.org,DNS:oauth.example.org',
      '-keyout', join(etc, 'certs', 'example.org.key'), '-out', join(etc, 'certs', 'example.org.crt')], { stdio: 'ignore' });
    execFileSync('chown', ['-R', 'root:prosody', etc]);
    execFileSync('chown', ['-R', 'prosody:prosody', join(etc, 'certs')]);
    chmodSync(join(etc, 'certs', 'example.org.key'), 0o600);
    const lua = JSON.stringify;
    wrapper = join(etc, 'test-run.cfg.lua');
    writeFileSync(wrapper, [
      `Include ${lua(join(etc, 'prosody.cfg.lua'))}`,
      'Host "*"',
      `data_path = ${lua(join(dir, 'data'))}`,
      `plugin_paths = { ${lua(join(dir, 'modules'))} }`,
      `pidfile = ${lua(join(dir, 'run', 'prosody.pid'))}`,
      `log = { debug = ${lua(join(dir, 'run', 'prosody.log'))} }`,
      `c2s_ports = { ${ports.c2s} }`,
      'c2s_interfaces = { "127.0.0.1" }',
      's2s_ports = { }',
      `component_ports = { ${ports.component} }`,
      'component_interfaces = { "127.0.0.1" }',
      'c2s_require_encryption = false',
      '',
    ].join('\n'));
    execFileSync('chown', ['-R', 'prosody:prosody', join(dir, 'data')]);
    for (const [user, password] of Object.entries(USERS)) {
      execFileSync('runuser', ['-u', 'prosody', '--', 'prosodyctl', '--config', wrapper, 'register', user, 'example.org', password], { stdio: 'pipe', timeout: 60_000 });
    }
    await startProsody(false); // no Component yet: the component port opens with the page's Component section

    substitutions = [
      ['/etc/xmpp-oauth', join(dir, 'etc', 'xmpp-oauth')],
      ['/etc/prosody', etc],
      ['/usr/local/lib/prosody/modules', join(dir, 'modules')],
      ['/var/lib/prosody', join(dir, 'data')],
      ['/root/before-xmpp-oauth', join(dir, 'backup')],
      ['redis://127.0.0.1:6379/0', redis.url],
      ['port: 8080', `port: ${await freePort()}`],
      ['xmpp://127.0.0.1:5347', `xmpp://127.0.0.1:${ports.component}`],
      ['--server 127.0.0.1:5222', `--server 127.0.0.1:${ports.c2s}`],
    ];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_')));
    session = new Session(ROOT, { ...env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, NODE_EXTRA_CA_CERTS: join(etc, 'certs', 'example.org.crt') });
  });
  after(async () => {
    session?.stop();
    await prosody?.stop().catch(() => {});
    await server?.stop();
    await store?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const moved = (code: string) => substitutions.reduce((c, [from, to]) => c.split(from).join(to), code);
  const steps = () => blocks.filter((b) => b.section.startsWith('From Prosody'));

  it('issue 23: the step-by-step section has its blocks, and every skipped block says why', () => {
    const code = steps().map((b: Block) => b.code).join('\n');
    for (const needle of ['--dry-run', 'user import prosody /var/lib/prosody', 'xmpp_oauth_scram = { "SCRAM-SHA-1" }', 'check config', 'tar -czf']) {
      assert.ok(code.includes(needle), `the steps include ${needle}`);
    }
    for (const b of blocks.filter((x) => x.skip)) assert.ok(b.skip!.length > 10, `a reason for skipping:\n${b.code}`);
    assert.ok(steps().filter((b) => !b.skip).length >= 5);
  });

  it('issue 23: the source is real: before the move, Prosody itself logs alice in with SCRAM-SHA-1', async () => {
    assert.deepEqual(await pinnedLogin(target(), 'alice', USERS.alice!, 'SCRAM-SHA-1'), { ok: true, mechanism: 'SCRAM-SHA-1' });
    assert.match(readFileSync(join(dir, 'data', 'example%2eorg', 'accounts', 'alice.dat'), 'utf8'), /stored_key/);
  });

  it('issue 23: stop, back up, import (dry run, then for real), configure, restart: every old password logs in pinned to SCRAM-SHA-1, SCRAM-SHA-256 is not offered, and the page\'s PLAIN check passes', async () => {
    const accountsDir = join(dir, 'data', 'example%2eorg', 'accounts');
    const before = Object.fromEntries(readdirSync(accountsDir).map((f) => [f, sha256(join(accountsDir, f))]));
    // xmpp-oauth as getting-started step 3 configures it (that page's own block), running.
    const configBlock = shellBlocks(readFileSync(GETTING_STARTED, 'utf8')).find((b) => b.code.includes('cat > /etc/xmpp-oauth/config.yml'));
    assert.ok(configBlock);
    await session.run(moved(configBlock.code));
    server = await serveProcess({}, ['--config', join(dir, 'etc', 'xmpp-oauth', 'config.yml')]);

    let outputs = '';
    let restarted = false;
    for (const b of steps()) {
      if (b.skip && b.code.includes('systemctl stop prosody')) {
        await prosody!.stop();
      } else if (b.skip && b.code.includes('systemctl start prosody')) {
        await startProsody(true);
        const s = server;
        await waitFor('the component link online', () => s.lines.some((l) => l.msg === 'component link online'), { timeoutMs: 20_000 }).catch((err: Error) => {
          throw new Error(`${err.message}\n${prosody!.log().slice(-3000)}`);
        });
        restarted = true;
        // Before anyone logs in with PLAIN: the records as imported, nothing else.
        for (const user of Object.keys(USERS)) {
          const account = (await store.getAccount(`${user}@example.org`))!;
          assert.equal(account.passwordHash, '', `${user}: no password known yet`);
          assert.deepEqual(Object.keys(account.scram ?? {}), ['SHA-1'], `${user}: the SCRAM-SHA-1 record only`);
        }
        const sasl = await rawSasl(target());
        sasl.close();
        assert.ok(sasl.mechanisms.includes('SCRAM-SHA-1'), `SCRAM-SHA-1 offered: ${sasl.mechanisms}`);
        assert.ok(!sasl.mechanisms.includes('SCRAM-SHA-256'), `only what Prosody 0.12 offered: ${sasl.mechanisms}`);
        for (const [user, password] of Object.entries(USERS)) {
          assert.deepEqual(await pinnedLogin(target(), user, password, 'SCRAM-SHA-1'), { ok: true, mechanism: 'SCRAM-SHA-1' }, `${user}: the old password, SCRAM-SHA-1`);
          assert.equal((await pinnedLogin(target(), user, `${password}x`, 'SCRAM-SHA-1')).ok, false, `${user}: a wrong password fails`);
        }
      } else if (!b.skip) {
        outputs += await session.run(moved(b.code), 90_000).catch((err: Error) => {
          throw new Error(`${err.message}\n--- prosody:\n${prosody?.log().slice(-3000) ?? ''}`);
        });
      }
    }
    assert.ok(restarted, 'the page restarts Prosody');
    assert.match(outputs, /^would create: 3\nunchanged \(imported before\): 0\nkept as they are \(exist here with other credentials\): 0\nrefused: 0\n/m, 'the dry run, as the page shows it');
    assert.match(outputs, /^created: 3\n/m);
    assert.match(outputs, /alice@example\.org\nbob@example\.org\ncarol@example\.org\n/, 'user list');
    assert.match(outputs, /All checks passed/, 'prosodyctl check config on the edited configuration');
    assert.match(outputs, /^logged in as alice@example\.org\/\S+$/m, 'the page\'s login check');

    // That PLAIN login completed alice's account; SCRAM-SHA-1 stays as imported.
    const alice = (await store.getAccount('alice@example.org'))!;
    assert.match(alice.passwordHash, /^\$argon2id\$/);
    assert.equal(await verifierMatches('SHA-256', alice.scram!['SHA-256']!, USERS.alice!), true);
    assert.deepEqual(await pinnedLogin(target(), 'alice', USERS.alice!, 'SCRAM-SHA-1'), { ok: true, mechanism: 'SCRAM-SHA-1' });

    // The source is unchanged, and the backup holds it.
    const afterwards = Object.fromEntries(readdirSync(accountsDir).map((f) => [f, sha256(join(accountsDir, f))]));
    assert.deepEqual(afterwards, before, 'the import changed nothing in Prosody\'s data');
    const listing = execFileSync('tar', ['-tzf', join(dir, 'backup', 'prosody.tar.gz')]).toString();
    assert.match(listing, /example%2eorg\/accounts\/alice\.dat/);
    assert.match(listing, /etc\/prosody\/conf\.d\/example\.org\.cfg\.lua/);

    // Running the page's import again changes nothing.
    const again = steps().find((b) => !b.skip && b.code.includes('user import prosody') && !b.code.includes('--dry-run'))!;
    const second = await session.run(moved(again.code));
    assert.match(second, /^created: 0\nunchanged \(imported before\): 3\n/m);
  });

  it('issue 23: the XEP-0227 import as written, on files Prosody 0.12\'s prosody-migrator wrote: carol comes back and logs in pinned to SCRAM-SHA-1', async () => {
    const xep = blocks.filter((b) => b.section.startsWith('From a XEP-0227') && !b.skip);
    assert.equal(xep.length, 1, 'one block runs: the import (the migrator reads SQL storage the test does not have)');
    assert.ok(xep[0]!.code.includes('user import xep0227 /var/lib/prosody/*@example.org.xml --dry-run'));
    // carol "not imported yet": her record leaves xmpp-oauth's Redis quietly. A real removal
    // (store.removeAccount) is news, and the module would purge her Prosody data with it.
    const raw = new Redis(redis.url);
    const keys = new RedisKeys();
    await raw.multi().del(keys.account('carol@example.org')).srem(keys.accountList(), 'carol@example.org').exec();
    raw.disconnect();
    assert.equal(await store.getAccount('carol@example.org'), null);
    // What the page's migrator call writes into the data folder, made from the file storage instead of SQL.
    const files = exportXep0227(join(dir, 'data'), ['example.org']);
    assert.deepEqual(files.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort(), ['alice@example.org.xml', 'bob@example.org.xml', 'carol@example.org.xml']);
    for (const f of files) copyFileSync(f, join(dir, 'data', f.slice(f.lastIndexOf('/') + 1)));
    rmSync(join(files[0]!, '..'), { recursive: true, force: true });
    const out = await session.run(moved(xep[0]!.code));
    assert.match(out, /^would create: 1\nunchanged \(imported before\): 2\n/m, 'the dry run');
    assert.match(out, /^created: 1\nunchanged \(imported before\): 2\n/m);
    assert.deepEqual(readdirSync(join(dir, 'data')).filter((f) => f.endsWith('.xml')), [], 'the page deletes the files');
    assert.deepEqual(await pinnedLogin(target(), 'carol', USERS.carol!, 'SCRAM-SHA-1'), { ok: true, mechanism: 'SCRAM-SHA-1' });
  });

  it('issue 23: the rollback as written: the configuration from the backup, and Prosody checks the old passwords itself again', async () => {
    const rollback = blocks.filter((b) => b.section === 'Rollback');
    assert.deepEqual(rollback.map((b) => Boolean(b.skip)), [true, false, true], 'stop, restore, start');
    await prosody!.stop();
    // The archive's member names are the moved paths, without the leading slash.
    await session.run(moved(rollback[1]!.code).replace(' -C / etc/prosody', ` -C / ${etc.slice(1)}`));
    assert.equal(readFileSync(join(etc, 'conf.d', 'example.org.cfg.lua'), 'utf8'), 'VirtualHost "example.org"\n', 'the configuration from before the move');
    await startProsody(false);
    const sasl = await rawSasl(target());
    sasl.close();
    assert.ok(!sasl.mechanisms.includes('OAUTHBEARER'), `Prosody's own mechanisms again: ${sasl.mechanisms}`);
    for (const [user, password] of Object.entries(USERS)) {
      assert.deepEqual(await pinnedLogin(target(), user, password, 'SCRAM-SHA-1'), { ok: true, mechanism: 'SCRAM-SHA-1' }, `${user}: Prosody's own record`);
    }
  });
});
