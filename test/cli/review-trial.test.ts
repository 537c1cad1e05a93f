// Issue 22, item 12 (what operators tripped over), on trial mode: the built
// `xmpp-oauth serve` started as an operator does, output not on a terminal.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { serveProcess, type ServeProcess } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

/** A listener standing in for an XMPP server's component port: it only counts who dials. */
async function componentPort(): Promise<{ server: Server; port: number; dialled: Socket[] }> {
  const dialled: Socket[] = [];
  const server = createServer((s) => dialled.push(s));
  const port = await freePort();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { server, port, dialled };
}

describe('review #12: trial mode off a terminal', { timeout: 120_000 }, () => {
  const running: ServeProcess[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const s of running) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const serve = async (...args: Parameters<typeof serveProcess>) => {
    const s = await serveProcess(...args);
    running.push(s);
    return s;
  };

  it('review #12: the readable block goes to stderr whenever trial mode is on, and the JSON log line carries no password', async () => {
    const s = await serve();
    const block = await waitFor('the block on stderr', () => (/Password: +\S+\n/.test(s.stderr()) ? s.stderr() : undefined));
    // Real lines, as written: copy-pasteable, not a JSON string with \n escapes.
    assert.match(block, /^TRIAL MODE: .*\n/m);
    assert.match(block, /^ {2}Demo account: +demo@localhost$/m);
    const password = /Password: +(\S+)\n/.exec(block)![1]!;
    assert.ok(password.length >= 16);
    const curl = /^ {4}(curl .*)$/m.exec(block)?.[1];
    assert.ok(curl?.includes(`${s.base}/oauth2/register`), 'the curl, whole, on one line');
    const line = await waitFor('the trial log line', () => s.lines.find((l) => typeof l.trial === 'object'));
    assert.equal(line.level, 'warn');
    assert.ok(!String(line.msg).includes('\n'), 'one line of text in the log');
    assert.ok(!s.lines.some((l) => JSON.stringify(l).includes(password)), 'the password is in no log line');
    assert.ok(!JSON.stringify(line).includes('demo_password'));
  });

  it('review #12: a trial does not dial an XMPP component port unless the link is configured, and /readyz answers 200', async () => {
    const s = await serve();
    await waitFor('the trial block', () => s.lines.find((l) => typeof l.trial === 'object'));
    const ready = await fetch(`${s.base}/readyz`);
    const body = (await ready.json()) as { status: string; xmpp: { enabled: boolean } };
    assert.equal(ready.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'ready');
    assert.deepEqual(body.xmpp, { enabled: false });
    assert.ok(!s.lines.some((l) => l.part === 'xmpp'), 'no component link activity at all');
    assert.match(s.stderr(), /XMPP: no component link in a trial unless configured/);
  });

  it('review #12: a trial with the link configured in the environment dials it, and is ready while the link is still down', async () => {
    const xmpp = await componentPort();
    try {
      const s = await serve({ XMPP_OAUTH_XMPP__SERVICE: `xmpp://127.0.0.1:${xmpp.port}`, XMPP_OAUTH_XMPP__SECRET: 'trial-secret' });
      await waitFor('the component connection', () => xmpp.dialled.length > 0 || undefined, { timeoutMs: 15_000 });
      const ready = await fetch(`${s.base}/readyz`);
      const body = (await ready.json()) as { xmpp: { enabled: boolean; online: boolean; required: boolean } };
      assert.equal(ready.status, 200, JSON.stringify(body));
      assert.deepEqual([body.xmpp.enabled, body.xmpp.online, body.xmpp.required], [true, false, false]);
    } finally {
      for (const sock of xmpp.dialled) sock.destroy();
      xmpp.server.close();
    }
  });

  it('readiness keeps its meaning for a configured server: 503 while its link is down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review-trial-'));
    dirs.push(dir);
    const file = join(dir, 'config.yml');
    writeFileSync(file, `xmpp:\n  service: xmpp://127.0.0.1:${await freePort()}\n  secret: s\n`);
    const s = await serve({}, ['--config', file]);
    const ready = await fetch(`${s.base}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { xmpp: { required: boolean } }).xmpp.required, true);
  });
});
