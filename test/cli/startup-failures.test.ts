import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, type CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';

// Each case runs the built CLI as an operator (or a supervisor) would and
// checks: exactly one line on stderr naming cause and fix, a non-zero exit, and
// a prompt exit once the process is up (the bound is loose: the machine is shared).
const PROMPT_MS = 3000;

function assertOneLineFailure(r: CliResult, cause: RegExp, fix: RegExp): void {
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  const [line] = lines as [string];
  assert.match(line, /^xmpp-oauth: cannot start: /);
  assert.match(line, cause);
  assert.match(line, fix);
  assert.doesNotMatch(line, /\bat .*\.js:\d+/, 'no stack trace');
  assert.equal(r.code, 1);
  assert.ok(r.afterFirstOutputMs < PROMPT_MS, `exited ${Math.round(r.afterFirstOutputMs)} ms after start-up (limit ${PROMPT_MS})`);
  // Nothing at error level in the JSON log on stdout either: the one line is the report.
  for (const l of r.stdout.split('\n').filter(Boolean)) assert.ok(!/"level":"(error|fatal)"/.test(l), l);
}

describe('issue 12 #12: a failed start prints one line and exits', () => {
  let dir: string;
  let redis: RedisInstance;
  let holder: Server;
  let takenPort: number;
  let env: Record<string, string>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xo-startup-'));
    redis = await startRedis();
    takenPort = await freePort();
    holder = createServer();
    await new Promise<void>((r) => holder.listen(takenPort, '127.0.0.1', r));
    env = {
      XMPP_OAUTH_REDIS__URL: redis.url,
      XMPP_OAUTH_HTTP__PORT: String(await freePort()),
      // Nothing listens there: a link that kept retrying would keep the process alive too.
      XMPP_OAUTH_XMPP__SERVICE: `xmpp://127.0.0.1:${await freePort()}`,
    };
  });
  after(async () => {
    holder.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('issue 12 #12: HTTP port in use (EADDRINUSE), with Redis connected', async () => {
    const r = await runCli(['serve'], { timeoutMs: 20_000, env: { ...env, XMPP_OAUTH_HTTP__PORT: String(takenPort) } });
    assertOneLineFailure(r, new RegExp(`127\\.0\\.0\\.1:${takenPort} is already in use`), /set http\.port/);
  });

  it('issue 12 #12: privileged port refused (EACCES)', async () => {
    // As root every port is allowed: run as nobody, the way a service account would.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const r = await runCli(['serve'], { timeoutMs: 20_000, ...asNobody, env: { ...env, XMPP_OAUTH_HTTP__PORT: '80' } });
    assertOneLineFailure(r, /no permission to listen on HTTP address 127\.0\.0\.1:80/, /CAP_NET_BIND_SERVICE/);
  });

  it('issue 12 #12: http.host not an address of this machine (EADDRNOTAVAIL)', async () => {
    const r = await runCli(['serve'], { timeoutMs: 20_000, env: { ...env, XMPP_OAUTH_HTTP__HOST: '192.0.2.1' } });
    assertOneLineFailure(r, /192\.0\.2\.1 is not an address of this machine/, /set http\.host/);
  });

  it('issue 12 #12: signing_key_file missing', async () => {
    const file = join(dir, 'missing.pem');
    const r = await runCli(['serve'], { timeoutMs: 20_000, env: { ...env, XMPP_OAUTH_SIGNING_KEY_FILE: file } });
    assertOneLineFailure(r, new RegExp(`cannot read signing_key_file ${file} \\(no such file\\)`), /xmpp-oauth keys generate --out/);
  });

  it('issue 12 #12: signing_key_file unreadable by the service user', async () => {
    const file = join(dir, 'root-only.pem');
    writeFileSync(file, 'not read anyway', { mode: 0o600 });
    chmodSync(file, 0o600);
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if (process.getuid?.() !== 0) chmodSync(file, 0o000);
    // dir is 0700 from mkdtemp: let nobody reach the file itself.
    chmodSync(dir, 0o755);
    const r = await runCli(['serve'], { timeoutMs: 20_000, ...asNobody, env: { ...env, XMPP_OAUTH_SIGNING_KEY_FILE: file } });
    assertOneLineFailure(r, /cannot read signing_key_file .*\(permission denied\)/, /make it readable by the user running xmpp-oauth/);
  });

  it('issue 12 #12: signing_key_file is not a key', async () => {
    const file = join(dir, 'garbage.pem');
    writeFileSync(file, '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    const r = await runCli(['serve'], { timeoutMs: 20_000, env: { ...env, XMPP_OAUTH_SIGNING_KEY_FILE: file } });
    assertOneLineFailure(r, /signing_key_file .*garbage\.pem is not a ES256 private key/, /signing_algorithm|keys generate/);
  });

  it('issue 12 #12: template_path does not exist', async () => {
    const path = join(dir, 'no-such-views');
    const r = await runCli(['serve'], { timeoutMs: 20_000, env: { ...env, XMPP_OAUTH_TEMPLATE_PATH: path } });
    assertOneLineFailure(r, new RegExp(`template_path ${path} is not a folder \\(no such file or folder\\)`), /remove it to use the built-in views/);
  });

  it('issue 12 #12: config check reports the same file problems before a start, one line, exit 2', async () => {
    const file = join(dir, 'absent.pem');
    const bad = await runCli(['config', 'check'], { env: { XMPP_OAUTH_SIGNING_KEY_FILE: file }, timeoutMs: 20_000 });
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr.trim(), new RegExp(`^xmpp-oauth: cannot read signing_key_file ${file} \\(no such file\\); .*keys generate --out`));
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    const views = await runCli(['config', 'check'], { env: { XMPP_OAUTH_TEMPLATE_PATH: join(dir, 'nope') }, timeoutMs: 20_000 });
    assert.equal(views.code, 2);
    assert.match(views.stderr, /template_path .*nope is not a folder/);
    const good = await runCli(['config', 'check'], { timeoutMs: 20_000 });
    assert.equal(good.code, 0, good.stderr);
  });

  it('issue 12 #12: a template in template_path has a syntax error', async () => {
    const views = join(dir, 'views');
    mkdirSync(views);
    writeFileSync(join(views, 'login.hbs'), '<p>{{#if error}}unclosed</p>\n');
    const r = await runCli(['serve'], { timeoutMs: 20_000, env: { ...env, XMPP_OAUTH_TEMPLATE_PATH: views } });
    assertOneLineFailure(r, /cannot use .*login\.hbs: Parse error/, /fix or remove that file/);
  });
});
