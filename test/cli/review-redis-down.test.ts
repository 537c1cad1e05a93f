// Issue 22, item 12 (what operators tripped over): the command line with Redis
// down says so in one line, with no ioredis stack trace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { BIN, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('review #12: the CLI when Redis is down', { timeout: 60_000 }, () => {
  it('review #12: `user list` with Redis down prints one clear line and exits 1, no ioredis stack trace', async () => {
    const port = await freePort();
    const r = await runCli(['user', 'list'], { env: { XMPP_OAUTH_REDIS__URL: `redis://127.0.0.1:${port}` }, timeoutMs: 30_000 });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `xmpp-oauth: cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  });

  it('review #12: a long-running command (the extauth bridge) says "lost Redis" once per outage, no ioredis stack trace', async () => {
    const redis = await startRedis();
    const child = spawn(process.execPath, [BIN, 'extauth', '--protocol', 'generic'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', XMPP_OAUTH_REDIS__URL: redis.url,
        // No server has published its issuer in this Redis: the bridge takes them from its own config.
        XMPP_OAUTH_ISSUER: 'http://127.0.0.1:9', XMPP_OAUTH_XMPP__HOSTS: 'localhost' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitFor('the bridge ready', () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stderr}`);
        return stderr.includes('extauth bridge ready') || undefined;
      }, { timeoutMs: 20_000 });
      await redis.stop();
      await waitFor('the outage line', () => stderr.includes('lost Redis') || undefined, { timeoutMs: 10_000 });
      // ioredis retries every few hundred ms: still one line.
      await new Promise((r) => setTimeout(r, 2_000));
      const lost = stderr.split('\n').filter((l) => l.includes('lost Redis'));
      assert.equal(lost.length, 1, stderr);
      assert.match(lost[0]!, /^xmpp-oauth: lost Redis \(.+\); retrying$/);
      assert.doesNotMatch(stderr, /ioredis|\n\s+at /);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      await redis.stop().catch(() => {});
    }
  });
});
