// The external-auth bridge as the XMPP server runs it: the built command line,
// bytes in on stdin, bytes out on stdout, state in a real Redis.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, runCli } from '../helpers/cli.js';
import { startRedis } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { revoke, tokensFor } from '../helpers/tokens.js';

const PASSWORD = 'alice password 1234';
const COLONS = 'pass:with:colons::';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the bridge over `input` (written in `chunks` pieces) and returns what it printed. */
function bridge(config: string, protocol: 'generic' | 'ejabberd', input: Buffer, chunks = 1): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--config', config, 'extauth', '--protocol', protocol], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    const size = Math.ceil(input.length / chunks);
    const write = async () => {
      for (let i = 0; i < input.length; i += size) {
        child.stdin.write(input.subarray(i, i + size));
        if (chunks > 1) await new Promise((r) => setTimeout(r, 5));
      }
      child.stdin.end();
    };
    void write();
  });
}

const lines = (...ls: Array<string | Buffer>) => Buffer.concat(ls.map((l) => (typeof l === 'string' ? Buffer.from(`${l}\n`) : l)));
const frame = (body: string | Buffer) => {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const head = Buffer.alloc(2);
  head.writeUInt16BE(b.length);
  return Buffer.concat([head, b]);
};
const YES = Buffer.from([0, 2, 0, 1]);
const NO = Buffer.from([0, 2, 0, 0]);

describe('extauth bridge', () => {
  let server: TestServer;
  let dir: string;
  let config: string;

  before(async () => {
    server = await startServer({ xmpp: { enabled: false, hosts: ['localhost'] } });
    dir = mkdtempSync(join(tmpdir(), 'extauth-test-'));
    config = join(dir, 'config.yml');
    writeFileSync(config, `issuer: ${server.url}\nredis:\n  url: ${server.redisUrl}\nxmpp:\n  hosts: [localhost]\nlog:\n  level: info\n`);
    await server.app.accounts.create('alice@localhost', PASSWORD);
    await server.app.accounts.create('colon@localhost', COLONS);
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('generic (Prosody mod_auth_external lines)', () => {
    it('answers auth, isuser and setpass, one line each, in order', async () => {
      const run = await bridge(
        config,
        'generic',
        lines(
          `auth:alice:localhost:${PASSWORD}`,
          'auth:alice:localhost:wrong password',
          `auth:colon:localhost:${COLONS}`,
          'isuser:alice:localhost',
          'isuser:nobody:localhost',
          `auth:alice:elsewhere.example:${PASSWORD}`,
        ),
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.toString(), '1\n0\n1\n1\n0\n0\n');
    });

    it('tolerates CRLF from a pty and input split at any byte', async () => {
      const input = Buffer.from(`auth:alice:localhost:${PASSWORD}\r\nisuser:alice:localhost\r\n`);
      const run = await bridge(config, 'generic', input, input.length);
      assert.equal(run.stdout.toString(), '1\n1\n');
    });

    it('answers 0 to empty fields, unknown commands, missing fields and invalid UTF-8, and keeps going', async () => {
      const run = await bridge(
        config,
        'generic',
        lines(
          '',
          'auth::localhost:pw',
          'auth:alice::pw',
          'auth:alice:localhost:',
          'auth:alice:localhost',
          'auth',
          'frobnicate:alice:localhost',
          'isuser:alice:localhost:extra',
          Buffer.concat([Buffer.from('auth:alice:localhost:'), Buffer.from([0xff, 0xfe, 0x0a])]),
          `auth:alice:localhost:${PASSWORD}`,
        ),
      );
      assert.equal(run.stdout.toString(), '0\n'.repeat(9) + '1\n');
      assert.doesNotMatch(run.stderr, new RegExp(PASSWORD), 'no password in the log');
      assert.match(run.stderr, /extauth request refused: malformed/);
    });

    it('refuses an oversized line without buffering it, then answers the next', async () => {
      const run = await bridge(config, 'generic', lines(`auth:alice:localhost:${'x'.repeat(100_000)}`, `auth:alice:localhost:${PASSWORD}`), 10);
      assert.equal(run.stdout.toString(), '0\n1\n');
      assert.match(run.stderr, /too long/);
    });

    it('exits 0 without answering a line cut off by the end of input', async () => {
      const run = await bridge(config, 'generic', Buffer.from(`isuser:alice:localhost\nauth:alice:local`));
      assert.equal(run.code, 0);
      assert.equal(run.stdout.toString(), '1\n');
      assert.match(run.stderr, /ended in the middle of a request/);
    });
  });

  describe('ejabberd (2-byte length frames)', () => {
    it('answers every ejabberd 23.01 command with 00 02 00 0N', async () => {
      const run = await bridge(
        config,
        'ejabberd',
        Buffer.concat([
          frame(`auth:alice:localhost:${PASSWORD}`),
          frame('auth:alice:localhost:nope'),
          frame('isuser:alice:localhost'),
          frame('tryregister:bob:localhost:bob password 1:x'),
          frame('tryregister:bob:localhost:bob password 1:x'),
          frame('auth:bob:localhost:bob password 1:x'),
          frame('setpass:bob:localhost:bob password 2'),
          frame('auth:bob:localhost:bob password 2'),
          frame('removeuser3:bob:localhost:wrong'),
          frame('removeuser3:bob:localhost:bob password 2'),
          frame('isuser:bob:localhost'),
          frame('tryregister:carl:localhost:carl password 1'),
          frame('removeuser:carl:localhost'),
          frame('removeuser:carl:localhost'),
        ]),
      );
      assert.equal(run.code, 0, run.stderr);
      const expected = [YES, NO, YES, YES, NO, YES, YES, YES, NO, YES, NO, YES, YES, NO];
      assert.deepEqual(run.stdout, Buffer.concat(expected));
    });

    it('accepts an access token as the password, and refuses it once the grant is revoked', async () => {
      const { access_token, refresh_token } = await tokensFor(server.url, 'alice@localhost', PASSWORD);
      const before = await bridge(config, 'ejabberd', frame(`auth:alice:localhost:${access_token}`));
      assert.deepEqual(before.stdout, YES);
      await revoke(server.url, refresh_token);
      const afterRevoke = await bridge(config, 'ejabberd', frame(`auth:alice:localhost:${access_token}`));
      assert.deepEqual(afterRevoke.stdout, NO);
      assert.doesNotMatch(afterRevoke.stderr, new RegExp(access_token.split('.')[2]!), 'no token in the log');
    });

    it('refuses empty, malformed, invalid UTF-8 and oversized frames and stays in step', async () => {
      const run = await bridge(
        config,
        'ejabberd',
        Buffer.concat([
          frame(''),
          frame('auth:alice:localhost'),
          frame(Buffer.from([0x61, 0x75, 0x74, 0x68, 0x3a, 0xc3, 0x28])),
          frame(`auth:alice:localhost:${'y'.repeat(60_000)}`),
          frame(`auth:alice:localhost:${PASSWORD}`),
        ]),
        50,
      );
      assert.deepEqual(run.stdout, Buffer.concat([NO, NO, NO, NO, YES]));
    });

    it('exits 0 on a truncated frame, answering only the whole ones', async () => {
      const whole = frame('isuser:alice:localhost');
      const cut = frame(`auth:alice:localhost:${PASSWORD}`).subarray(0, 10);
      const run = await bridge(config, 'ejabberd', Buffer.concat([whole, cut]));
      assert.equal(run.code, 0);
      assert.deepEqual(run.stdout, YES);
      assert.match(run.stderr, /ended in the middle of a request/);
    });
  });

  it('refuses to start without a shared store, and without --protocol', async () => {
    const memory = join(dir, 'memory.yml');
    writeFileSync(memory, 'xmpp:\n  hosts: [localhost]\n');
    const noRedis = await bridge(memory, 'generic', Buffer.from('isuser:alice:localhost\n'));
    assert.equal(noRedis.code, 2);
    assert.match(noRedis.stderr, /no redis\.url is configured/);
    assert.equal(noRedis.stdout.length, 0);
    const noProtocol = await runCli(['--config', config, 'extauth']);
    assert.equal(noProtocol.code, 2);
    assert.match(noProtocol.stderr, /--protocol/);
    const badProtocol = await runCli(['--config', config, 'extauth', '--protocol', 'xml']);
    assert.equal(badProtocol.code, 2);
    assert.match(badProtocol.stderr, /generic, ejabberd/);
  });
});

describe('extauth bridge during a Redis outage', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let server: TestServer;
  let dir: string;
  let config: string;

  before(async () => {
    redis = await startRedis({ persist: true });
    server = await startServer({ xmpp: { enabled: false, hosts: ['localhost'] } }, { redis: redis.url });
    await server.app.accounts.create('alice@localhost', PASSWORD);
    await server.app.accounts.create('bob@localhost', 'bob password 1234');
    dir = mkdtempSync(join(tmpdir(), 'extauth-outage-'));
    config = join(dir, 'config.yml');
    writeFileSync(config, `issuer: ${server.url}\nredis:\n  url: ${redis.url}\nxmpp:\n  hosts: [localhost]\nlog:\n  level: info\n`);
  });
  after(async () => {
    await server.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says yes to isuser for an account it has seen and no to any other, never lets a login through, and recovers', async () => {
    const child = spawn(process.execPath, [BIN, '--config', config, 'extauth', '--protocol', 'generic'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const waiting: Array<(line: string) => void> = [];
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      let nl: number;
      while ((nl = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        waiting.shift()?.(line);
      }
    });
    const ask = (request: string) =>
      new Promise<string>((resolve) => {
        waiting.push(resolve);
        child.stdin.write(`${request}\n`);
      });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      assert.equal(await ask('isuser:alice:localhost'), '1');
      assert.equal(await ask(`auth:bob:localhost:bob password 1234`), '1', 'a login also makes an account known');
      await redis.kill();
      assert.equal(await ask('isuser:alice:localhost'), '1', 'seen a moment ago: still there');
      assert.equal(await ask('isuser:bob:localhost'), '1');
      assert.equal(await ask('isuser:carol:localhost'), '0', 'never seen: no');
      assert.equal(await ask(`auth:alice:localhost:${PASSWORD}`), '0', 'no login without storage');
      await redis.restart();
      let answer = '0';
      for (let i = 0; i < 100 && answer !== '1'; i++) {
        answer = await ask(`auth:alice:localhost:${PASSWORD}`);
        if (answer !== '1') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(answer, '1', 'logins work again once Redis is back, without a restart');
      assert.equal(await ask('isuser:carol:localhost'), '0');
    } finally {
      child.stdin.end();
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /answered yes from memory: storage unavailable/);
    assert.match(stderr, /answered no: storage unavailable/);
  });
});
