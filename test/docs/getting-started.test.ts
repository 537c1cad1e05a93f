// Issue 15: docs/getting-started.md cannot rot. Its ```sh blocks run in order in
// one bash session, as a reader would paste them; blocks marked
// `<!-- doc-test: skip … -->` are replaced by what the marker says. System paths
// and ports are moved into a temporary folder and free ports, by substitution
// listed below, so nothing outside the folder is touched.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { BIN, serveProcess, type ServeProcess } from '../helpers/cli.js';
import { approveDevice } from '../helpers/device.js';
import { authorizeInBrowser } from '../helpers/flow.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { Session, shellBlocks } from './shell-doc.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The "existing server" step 5 adds to: Debian's own Prosody configuration, as the package installs it. */
const DEBIAN_PROSODY = '/etc/prosody';
const DOC = join(ROOT, 'docs', 'getting-started.md');

/**
 * Prosody 0.12 started from the configuration the page leaves in `etc` (plus
 * what moves it off the system's files and ports), as the prosody user, in a
 * process group of its own so that stopping it stops nothing else.
 */
async function startProsodyFrom(etc: string, dir: string, ports: { c2s: number; component: number }): Promise<{ log: () => string; stop: () => void }> {
  const run = join(dir, 'prosody-run');
  mkdirSync(run, { recursive: true });
  const config = join(etc, 'test-run.cfg.lua');
  const lua = JSON.stringify;
  writeFileSync(config, [
    `Include ${lua(join(etc, 'prosody.cfg.lua'))}`,
    'Host "*"',
    // Debian's file names the system's module folder; the page's `cp` went to the moved one.
    `plugin_paths = { ${lua(join(dir, 'modules'))} }`,
    `pidfile = ${lua(join(run, 'prosody.pid'))}`,
    `log = { debug = ${lua(join(run, 'prosody.log'))} }`,
    `c2s_ports = { ${ports.c2s} }`,
    'c2s_interfaces = { "127.0.0.1" }',
    's2s_ports = { }',
    `component_ports = { ${ports.component} }`,
    'component_interfaces = { "127.0.0.1" }',
    '',
  ].join('\n'));
  execFileSync('chown', ['-R', 'prosody:prosody', run, join(dir, 'data')]);
  const child: ChildProcess = spawn('runuser', ['-u', 'prosody', '--', 'prosody', '-F', '--config', config], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const logFile = join(run, 'prosody.log');
  const log = () => output + (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGTERM');
  };
  const listening = (port: number) =>
    new Promise<boolean>((resolve) => {
      const sock = connect({ port, host: '127.0.0.1' });
      sock.once('connect', () => (sock.destroy(), resolve(true)));
      sock.once('error', () => (sock.destroy(), resolve(false)));
    });
  try {
    await waitFor('Prosody listening', async () => {
      if (child.exitCode !== null) throw new Error(`prosody exited ${child.exitCode}:\n${log().slice(-3000)}`);
      return (await listening(ports.c2s)) && (await listening(ports.component));
    }, { timeoutMs: 20_000, intervalMs: 100 });
  } catch (err) {
    stop();
    throw err;
  }
  return { log, stop };
}

/** A token for alice with the XMPP login scope, the way the developer walkthrough gets one: registration, device flow, approval. */
async function deviceToken(base: string, username: string, password: string): Promise<string> {
  const registered = await fetch(`${base}/oauth2/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Login check', client_uri: 'https://app.example/', application_type: 'native', token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback'], grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
    }),
  });
  assert.equal(registered.status, 201, await registered.clone().text());
  const { client_id } = (await registered.json()) as { client_id: string };
  const device = (await (await fetch(`${base}/oauth2/device`, { method: 'POST', body: new URLSearchParams({ client_id, scope: 'openid xmpp:client:normal' }) })).json()) as {
    device_code: string;
    user_code: string;
    verification_uri: string;
  };
  // The issuer is the public https address; the test reaches the same server on loopback.
  const approved = await approveDevice(new FormBrowser(), `${base}${new URL(device.verification_uri).pathname}`, device.user_code, { username, password });
  assert.equal(approved.status, 200, approved.html.slice(0, 300));
  const tokens = (await (await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: device.device_code, client_id }),
  })).json()) as { access_token?: string; scope?: string };
  assert.ok(tokens.access_token, JSON.stringify(tokens));
  return tokens.access_token;
}

describe('issue 15: docs/getting-started.md runs as written', { timeout: 240_000 }, () => {
  const blocks = shellBlocks(readFileSync(DOC, 'utf8'));
  let dir: string;
  let redis: RedisInstance;
  let session: Session;
  const servers: ServeProcess[] = [];
  const stops: Array<() => void> = [];
  let substitutions: Array<[string, string]>;
  let ports: { c2s: number; component: number };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'getting-started-'));
    chmodSync(dir, 0o755);
    for (const sub of ['bin', 'data']) mkdirSync(join(dir, sub));
    // What `npm link` makes, on our own PATH only.
    symlinkSync(BIN, join(dir, 'bin', 'xmpp-oauth'));
    redis = await startRedis();
    // The server already running: Debian's own Prosody configuration, which step 5 adds to.
    cpSync(DEBIAN_PROSODY, join(dir, 'etc', 'prosody'), { recursive: true, filter: (src) => !src.includes('/certs') });
    execFileSync('chown', ['-R', 'root:prosody', join(dir, 'etc', 'prosody')]); // as the package leaves it
    ports = { c2s: await freePort(), component: await freePort() };
    substitutions = [
      ['/etc/xmpp-oauth', join(dir, 'etc', 'xmpp-oauth')],
      ['/etc/prosody', join(dir, 'etc', 'prosody')],
      ['/usr/local/lib/prosody/modules', join(dir, 'modules')],
      ['/var/lib/prosody', join(dir, 'data')],
      ['redis://127.0.0.1:6379/0', redis.url],
      ['port: 8080', `port: ${await freePort()}`],
      ['xmpp://127.0.0.1:5347', `xmpp://127.0.0.1:${ports.component}`],
      ['--server 127.0.0.1:5222', `--server 127.0.0.1:${ports.c2s}`],
    ];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_')));
    session = new Session(ROOT, { ...env, PATH: `${join(dir, 'bin')}:${process.env.PATH}` });
  });
  after(async () => {
    session?.stop();
    for (const stop of stops) stop();
    for (const s of servers) await s.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const moved = (code: string) => substitutions.reduce((c, [from, to]) => c.split(from).join(to), code);
  const section = (prefix: string) => blocks.filter((b) => b.section.startsWith(prefix));

  it('has shell blocks for each reader, and says why each skipped one is skipped', () => {
    assert.ok(section('Operator').filter((b) => !b.skip).length >= 4);
    assert.ok(section('Application developer').filter((b) => !b.skip).length >= 4);
    for (const b of blocks.filter((x) => x.skip)) assert.ok(b.skip!.length > 10, `a reason for skipping:\n${b.code}`);
    assert.ok(blocks.some((b) => b.code.includes('npm link')), 'says how to get the command');
  });

  it('issue 15 #8, review #12 operator: config and account as written, lines merged into an existing Prosody, both login checks pass', async () => {
    const config = join(dir, 'etc', 'xmpp-oauth', 'config.yml');
    let server: ServeProcess | undefined;
    let prosody: { log: () => string } | undefined;
    let outputs = '';
    for (const b of section('Operator')) {
      if (!b.skip) {
        outputs += await session.run(moved(b.code));
      } else if (b.code.includes('systemctl enable --now xmpp-oauth')) {
        server = await serveProcess({}, ['--config', config]);
        servers.push(server);
      } else if (b.code.includes('systemctl restart prosody')) {
        const started = await startProsodyFrom(join(dir, 'etc', 'prosody'), dir, ports);
        stops.push(started.stop);
        prosody = started;
        const s = server!;
        await waitFor('the component link online', () => s.lines.some((l) => l.msg === 'component link online'), { timeoutMs: 20_000 }).catch((err: Error) => {
          throw new Error(`${err.message}\n${started.log().slice(-3000)}`);
        });
      } else if (b.code.includes('--token "$ACCESS_TOKEN"')) {
        await session.set('ACCESS_TOKEN', await deviceToken(server!.base, 'alice@example.org', 'correct horse battery staple'));
        outputs += await session.run(moved(b.code)).catch((err: Error) => {
          throw new Error(`${err.message}\n--- prosody:\n${prosody?.log().slice(-3000)}`);
        });
      }
    }
    assert.match(outputs, /redis:/, 'config check printed the effective config');
    assert.match(outputs, /created alice@example\.org/);
    assert.match(outputs, /alice@example\.org\n/, 'user list names her');
    assert.match(outputs, /All checks passed/, 'prosodyctl check config passed on Debian\'s configuration plus the lines of step 5');
    assert.ok(prosody && server, 'started Prosody and xmpp-oauth where the page does');
    // Step 6, both checks: the password, then a token with the XMPP scope.
    const logins = outputs.match(/^logged in as alice@example\.org\/\S+$/gm) ?? [];
    assert.equal(logins.length, 2, outputs);
    const ready = (await (await fetch(`${server.base}/readyz`)).json()) as { store: { ok: boolean; kind: string } };
    assert.deepEqual([ready.store.ok, ready.store.kind], [true, 'redis']);
    assert.ok(!server.lines.some((l) => typeof l.trial === 'object'), 'a configured server is no trial');
    // Behind the page's reverse proxy (a request as nginx or Caddy forwards it), /metrics is not public.
    const metrics = await fetch(`${server.base}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' } });
    assert.equal(metrics.status, 404);
    // The account made with the CLI signs in on that server's pages.
    const page = await new FormBrowser().get(`${server.base}/account`);
    assert.equal(page.status, 200);
  });

  it('issue 15 #8, review #12 developer and user: register, device flow and code flow with curl against a trial server, approved on the pages; the code flow\'s token can log in to XMPP', async () => {
    const trial = await serveProcess();
    servers.push(trial);
    const block = await waitFor('the trial block', () => trial.lines.find((l) => typeof l.trial === 'object'));
    const { account } = block.trial as { account: string };
    // The password is printed on stderr, never logged (review #12).
    const password = (await waitFor('the demo password on stderr', () => /Password: +(\S+)\n/.exec(trial.stderr())))[1]!;
    await session.set('ISSUER', trial.base);
    const browser = new FormBrowser();
    let outputs = '';
    for (const b of section('Application developer')) {
      if (b.skip) continue; // ISSUER is set above; CODE below, from the browser
      const out = await session.run(b.code);
      outputs += out;
      const device = /^Open (\S+) and approve$/m.exec(out);
      if (device) {
        // The user: types the code on the device page, signs in, allows.
        const url = new URL(device[1]!);
        const approved = await approveDevice(browser, `${url.origin}${url.pathname}`, url.searchParams.get('user_code')!, { username: account, password });
        assert.equal(approved.status, 200, approved.html.slice(0, 300));
      }
      const authorize = /^(http\S+\/oauth2\/authorize\?\S+)$/m.exec(out);
      if (authorize) {
        const landed = await authorizeInBrowser(browser, authorize[1]!, { username: account, password });
        assert.equal(landed.searchParams.get('state'), 'xyz');
        await session.set('CODE', landed.searchParams.get('code')!);
      }
    }
    assert.match(outputs, /"issuer":"http:\/\/127\.0\.0\.1:\d+"/, 'discovery');
    assert.match(outputs, /"sub":"xmpp:demo@localhost","preferred_username":"demo","jid":"demo@localhost"/, 'userinfo as the doc shows it');
    const answer = outputs.split('\n').find((l) => l.includes('"id_token"'));
    assert.ok(answer, `the code flow answered tokens:\n${outputs}`);
    const tokens = JSON.parse(answer.slice(answer.indexOf('{'))) as Record<string, string>;
    for (const t of ['access_token', 'id_token', 'refresh_token']) assert.ok(tokens[t], t);
    assert.ok(tokens.scope!.split(' ').includes('xmpp:client:normal'), `an XMPP login scope, or XMPP refuses the token: ${tokens.scope}`);
  });
});
