import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { BIN } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { waitFor as waitForValue } from '../helpers/wait.js';

describe('xmpp-oauth serve with zero configuration', () => {
  it('serves HTTP on the memory store, warns loudly, retries XMPP with warn, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_')));
    // The port is overridden, so a busy 8080 on the test machine cannot fail the test; the
    // component port is named, as a trial attaches only to a configured one (review #12).
    const xmppPort = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { ...env, XMPP_OAUTH_HTTP__PORT: String(port), XMPP_OAUTH_XMPP__SERVICE: `xmpp://127.0.0.1:${xmppPort}` },
    });
    const lines: Record<string, unknown>[] = [];
    let buffer = '';
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
        buffer = buffer.slice(nl + 1);
      }
    });
    const waitFor = (pred: (l: Record<string, unknown>) => boolean) =>
      waitForValue('a log line', () => lines.find(pred)).catch(() => assert.fail(`log line not seen; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`));

    try {
      await waitFor((l) => l.msg === 'HTTP listening');
      const memoryWarning = await waitFor((l) => String(l.msg).includes('in-memory store'));
      assert.equal(memoryWarning.level, 'warn');
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const discovery = (await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json()) as { issuer: string };
      assert.equal(discovery.issuer, `http://127.0.0.1:${port}`);
      // Nothing listens on that port: the link retries at warn, never error.
      const retry = await waitFor((l) => l.part === 'xmpp' && l.level === 'warn');
      assert.ok(retry);
      assert.equal(lines.filter((l) => l.level === 'error' || l.level === 'fatal').length, 0);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    // A login in flight when SIGTERM arrives still gets its answer (argon2 makes it slow enough to overlap).
    const browser = new FormBrowser();
    const page = await (await browser.get(`http://127.0.0.1:${port}/account`)).text();
    const inFlight = browser.submit(`http://127.0.0.1:${port}`, page, { username: 'alice@localhost', password: 'wrong password' });
    await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGTERM');
    const started = Date.now();
    assert.equal((await inFlight).status, 401, 'the in-flight request completed');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 5000, 'shutdown is prompt');
  });
});
