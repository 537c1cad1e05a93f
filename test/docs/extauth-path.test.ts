// The extauth_program line of contrib/ejabberd/ejabberd-example.yml (and of
// docs/xmpp-servers.md) names the command where `npm link` really puts it,
// and that command, started the way ejabberd starts it (split at spaces, no
// shell), answers ejabberd's frames.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BIN, runCli } from '../helpers/cli.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PASSWORD = 'alice password 1234';

/** The value of `extauth_program:` in a YAML or Markdown text. */
function extauthProgram(text: string): string {
  const m = /^extauth_program: "([^"]+)"$/m.exec(text);
  assert.ok(m, 'an extauth_program line');
  return m[1]!;
}

/** ejabberd's frames: a 2-byte big-endian length, then `cmd:user:host[:password]`. */
const frame = (body: string) => {
  const b = Buffer.from(body);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(b.length);
  return Buffer.concat([head, b]);
};

/** Runs `argv` without a shell, as ejabberd does, and returns the answers (1 = yes, 0 = no). */
function ask(argv: string[], requests: string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    // ejabberd's environment: a plain PATH, no shell, no npm.
    const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: '/usr/bin:/bin', HOME: '/tmp' }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const bytes = Buffer.concat(out);
      const answers: number[] = [];
      for (let i = 0; i + 4 <= bytes.length; i += 4) answers.push(bytes.readUInt16BE(i + 2));
      if (answers.length !== requests.length) reject(new Error(`${answers.length} answers to ${requests.length} requests; stderr:\n${stderr}`));
      else resolve(answers);
    });
    child.stdin.end(Buffer.concat(requests.map(frame)));
  });
}

describe('review #12: ejabberd\'s extauth_program as documented', () => {
  let dir: string;
  let redis: RedisInstance;
  let config: string;
  let prefix: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'extauth-path-'));
    redis = await startRedis();
    config = join(dir, 'config.yml');
    writeFileSync(config, [
      'issuer: https://auth.example.org',
      `redis:\n  url: ${redis.url}`,
      'xmpp:\n  hosts: [example.org]',
      '',
    ].join('\n'));
    const add = await runCli(['--config', config, 'user', 'add', 'alice@example.org', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(add.code, 0, add.stderr);
    // `npm link` as the docs say, into a global prefix of our own: a package
    // with this checkout's name and `bin`, its launcher a link to ours (no
    // dependencies, so nothing is fetched and the checkout is not touched).
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
    const linked = join(dir, 'checkout');
    mkdirSync(join(linked, 'bin'), { recursive: true });
    writeFileSync(join(linked, 'package.json'), JSON.stringify({ name: pkg.name, version: '0.0.0', bin: pkg.bin }));
    symlinkSync(BIN, join(linked, pkg.bin['xmpp-oauth']!));
    prefix = join(dir, 'prefix');
    execFileSync('npm', ['link', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], {
      cwd: linked,
      env: { ...process.env, npm_config_prefix: prefix },
      stdio: 'ignore',
    });
  });
  after(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('review #12: the example and the guide name $(npm prefix -g)/bin/xmpp-oauth, where npm link puts the command (/usr/bin here)', () => {
    const example = extauthProgram(readFileSync(join(ROOT, 'contrib', 'ejabberd', 'ejabberd-example.yml'), 'utf8'));
    const guide = extauthProgram(readFileSync(join(ROOT, 'docs', 'xmpp-servers.md'), 'utf8'));
    assert.equal(guide, example, 'the guide and the example say the same');
    const globalPrefix = execFileSync('npm', ['prefix', '-g'], { encoding: 'utf8' }).trim();
    assert.equal(example.split(' ')[0], `${globalPrefix}/bin/xmpp-oauth`, `npm prefix -g is ${globalPrefix} on this machine`);
    assert.ok(existsSync(join(prefix, 'bin', 'xmpp-oauth')), 'npm link made <prefix>/bin/xmpp-oauth');
  });

  it('review #12: that line, with the prefix npm link used, answers ejabberd\'s auth and isuser frames', async () => {
    const globalPrefix = execFileSync('npm', ['prefix', '-g'], { encoding: 'utf8' }).trim();
    const line = extauthProgram(readFileSync(join(ROOT, 'contrib', 'ejabberd', 'ejabberd-example.yml'), 'utf8'))
      .replace(`${globalPrefix}/bin/`, `${prefix}/bin/`)
      .replace('/etc/xmpp-oauth/config.yml', config);
    const answers = await ask(line.split(' '), [
      'isuser:alice:example.org',
      `auth:alice:example.org:${PASSWORD}`,
      'auth:alice:example.org:wrong password',
      'isuser:nobody:example.org',
    ]);
    assert.deepEqual(answers, [1, 1, 0, 0]);
  });
});
