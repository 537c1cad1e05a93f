// The bridge learns issuer and hosts from the server through the shared store
// (issue 12 #17): the built CLI, a real Redis, a real server issuing the token.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';

const PASSWORD = 'alice password 1234';

describe('issue 12 #17: the extauth bridge takes issuer and hosts from the server', () => {
  let redis: RedisInstance;
  let server: TestServer;
  let dir: string;
  const onlyRedis = (url: string) => {
    const file = join(dir, `bridge-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, `redis:\n  url: ${url}\n`);
    return file;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'extauth-identity-'));
    redis = await startRedis();
    // Neither the issuer (a random port) nor the host is what a bare bridge config would default to.
    server = await startServer({ xmpp: { enabled: false, hosts: ['example.org'] } }, { redis: redis.url });
    await server.app.accounts.create('alice@example.org', PASSWORD);
  });
  after(async () => {
    await server.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('issue 12 #17: a bridge started with only redis.url accepts a token the server issued, and says which issuer it accepts', async () => {
    const { access_token } = await tokensFor(server.url, 'alice@example.org', PASSWORD);
    const run = await runCli(['--config', onlyRedis(redis.url), 'extauth', '--protocol', 'generic'], {
      input: `auth:alice:example.org:${access_token}\nauth:alice:example.org:${PASSWORD}\nisuser:alice:example.org\n`,
      timeoutMs: 30_000,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '1\n1\n1\n', 'token, password and isuser all answered yes');
    const ready = run.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).startsWith('extauth bridge ready'));
    assert.ok(ready, run.stderr);
    assert.equal(ready.issuer, server.url);
    assert.deepEqual(ready.hosts, ['example.org']);
    assert.equal(ready.level, 'info');
  });

  it('issue 12 #17: the bridge also verifies tokens of a server that signs with signing_key_file (not in the store)', async () => {
    const keyFile = join(dir, 'signing.pem');
    const gen = await runCli(['keys', 'generate', '--out', keyFile]);
    assert.equal(gen.code, 0, gen.stderr);
    const own = await startRedis();
    const fileServer = await startServer({ signing_key_file: keyFile, xmpp: { enabled: false, hosts: ['example.org'] } }, { redis: own.url });
    try {
      await fileServer.app.accounts.create('alice@example.org', PASSWORD);
      const { access_token } = await tokensFor(fileServer.url, 'alice@example.org', PASSWORD);
      const run = await runCli(['--config', onlyRedis(own.url), 'extauth', '--protocol', 'generic'], {
        input: `auth:alice:example.org:${access_token}\n`,
        timeoutMs: 30_000,
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, '1\n');
    } finally {
      await fileServer.stop();
      await own.stop();
    }
  });

  it('issue 12 #17: without a published issuer, a bridge with only redis.url refuses to start with one line saying what to do', async () => {
    const empty = await startRedis();
    try {
      const run = await runCli(['--config', onlyRedis(empty.url), 'extauth', '--protocol', 'generic'], { input: 'isuser:alice:example.org\n', timeoutMs: 30_000 });
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '', 'nothing answered');
      const lines = run.stderr.split('\n').filter((l) => l && !l.startsWith('{'));
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, /^xmpp-oauth: cannot start: the shared store names no issuer .*start `xmpp-oauth serve` once against this Redis.*or set issuer and xmpp\.hosts/);
    } finally {
      await empty.stop();
    }
  });
});
