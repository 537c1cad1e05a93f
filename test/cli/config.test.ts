import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xo-config-'));
  const file = join(dir, 'config.yaml');
  await writeFile(file, text);
  return file;
}

describe('xmpp-oauth config check', () => {
  const bad: [string, string, RegExp][] = [
    ['bad YAML', 'access_token_ttl: [1, 2\nsite_name: x\n', /config\.yaml:\d+:\d+: invalid YAML/],
    ['an unknown key', 'acess_token_ttl: 60\n', /acess_token_ttl: unknown option/],
    ['a wrong type', 'access_token_ttl: soon\n', /access_token_ttl: .*expected number.*got "soon"/],
    ['a nested wrong value', 'http:\n  port: 70000\n', /http\.port: .*got 70000/],
    ['a bad enum', 'allowed_grant_types: [implicit]\n', /allowed_grant_types\.0: .*"authorization_code".*got "implicit"/],
    ['a sentinel password without sentinels', 'redis:\n  url: redis://127.0.0.1:6379\n  sentinel_password: pw\n', /redis\.sentinel_password: .*only used with redis\.sentinels/],
  ];
  for (const [what, text, pattern] of bad) {
    it(`refuses ${what} with a one-line error naming the key and exit code 2`, async () => {
      const res = await runCli(['config', 'check', '--config', await configFile(text)]);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, pattern);
      assert.equal(res.stderr.trim().split('\n').length, 1, `one line: ${res.stderr}`);
      assert.equal(res.stdout, '');
    });
  }

  it('names the environment variable when an override is wrong', async () => {
    const res = await runCli(['config', 'check'], { env: { XMPP_OAUTH_HTTP__PORT: 'eighty' } });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /http\.port: .*\(from XMPP_OAUTH_HTTP__PORT\)/);
  });

  it('issue 15 #8: the example configurations in contrib/ pass config check', async () => {
    for (const file of ['contrib/prosody/xmpp-oauth.example.yml', 'contrib/ejabberd/xmpp-oauth.example.yml']) {
      const res = await runCli(['config', 'check', '--config', fileURLToPath(new URL(`../../${file}`, import.meta.url))]);
      assert.equal(res.code, 0, `${file}: ${res.stderr}`);
    }
  });

  it('issue 15 #6: a plain scalar in the environment is a one-element list for a list option', async () => {
    const one = await runCli(['config', 'check'], { env: { XMPP_OAUTH_XMPP__HOSTS: 'example.org', XMPP_OAUTH_ALLOWED_GRANT_TYPES: 'authorization_code' } });
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /hosts:\n\s+- example\.org\n/);
    assert.match(one.stdout, /allowed_grant_types:\n\s+- authorization_code\n\s*\w/);
    // A secret that looks like a number stays a string.
    const secret = await runCli(['config', 'check'], { env: { XMPP_OAUTH_COOKIE_SECRETS: '1'.repeat(40) } });
    assert.equal(secret.code, 0, secret.stderr);
    // Several values still take YAML flow syntax.
    const two = await runCli(['config', 'check'], { env: { XMPP_OAUTH_XMPP__HOSTS: '[a.example, b.example]' } });
    assert.equal(two.code, 0, two.stderr);
    assert.match(two.stdout, /hosts:\n\s+- a\.example\n\s+- b\.example\n/);
  });

  it('prints the effective configuration with secrets masked', async () => {
    const file = await configFile('xmpp:\n  secret: supersecret-component\nregistration_key: "0123456789abcdef0123456789abcdef-reg"\n');
    const res = await runCli(['config', 'check', '--config', file], {
      env: { XMPP_OAUTH_REDIS__URL: 'redis://:hunter22@127.0.0.1:6390/0', XMPP_OAUTH_ACCESS_TOKEN_TTL: '120' },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /access_token_ttl: 120/);
    assert.match(res.stdout, /refresh_token_ttl: 604800/);
    for (const secret of ['supersecret-component', '0123456789abcdef0123456789abcdef-reg', 'hunter22']) {
      assert.equal(res.stdout.includes(secret), false, `${secret} must be masked`);
    }
    assert.match(res.stdout, /url: redis:\/\/:\*+@127\.0\.0\.1:6390\/0/);
  });

  it('masks both passwords of a Sentinel set', async () => {
    const file = await configFile('redis:\n  sentinels: [127.0.0.1:26379]\n  name: mymaster\n  password: data-node-pass\n  sentinel_password: sentinel-pass\n');
    const res = await runCli(['config', 'check', '--config', file]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /sentinel_password: "\*+"/);
    for (const secret of ['data-node-pass', 'sentinel-pass']) assert.equal(res.stdout.includes(secret), false, `${secret} must be masked`);
  });

  it('reads the file named by XMPP_OAUTH_CONFIG', async () => {
    const file = await configFile('site_name: Example Chat\n');
    const res = await runCli(['config', 'check'], { env: { XMPP_OAUTH_CONFIG: file } });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /site_name: Example Chat/);
  });

  it('exits 2 on a missing config file', async () => {
    const res = await runCli(['config', 'check', '--config', '/nonexistent/xo.yaml']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /cannot read config file \/nonexistent\/xo\.yaml: ENOENT/);
  });
});

describe('command line conventions', () => {
  it('--help works on every command and exits 0', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['user', '--help'], ['user', 'add', '--help'], ['config', 'check', '--help']]) {
      const res = await runCli(args);
      assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stdout, /Usage: xmpp-oauth/);
    }
  });

  it('exits 2 on an unknown command or option', async () => {
    assert.equal((await runCli(['frobnicate'])).code, 2);
    assert.equal((await runCli(['user', 'add', '--bogus', 'a@b'])).code, 2);
  });
});
