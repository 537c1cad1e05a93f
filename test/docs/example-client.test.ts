// examples/xep0493-client.mjs run as the docs tell people to run it: the
// whole sequence on a fixed redirect port, and the one-line login checks
// (getting-started step 6), against a real Prosody with our module.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { authorizeInBrowser } from '../helpers/flow.js';
import { freePort } from '../helpers/ports.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { PROSODY_VERSIONS } from '../helpers/prosody.js';
import { tokensFor } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'xep0493-client.mjs');
const PASSWORD = 'alice password 1234';

interface Run {
  code: number | null;
  out: string;
}

/** Runs still going when a test ends (a failed assertion) are killed, so none outlives it. */
const running = new Set<ChildProcess>();
const killRunning = () => {
  for (const child of running) child.kill('SIGKILL');
};

/** The example as a person runs it; `onOutput` sees stdout as it grows. */
function runExample(args: string[], opts: { stdin?: string; env?: Record<string, string>; onOutput?: (out: string) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EXAMPLE, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const grow = (d: Buffer) => {
      out += d.toString();
      opts.onOutput?.(out);
    };
    child.stdout.on('data', grow);
    child.stderr.on('data', grow);
    child.on('error', reject);
    running.add(child);
    child.on('close', (code) => {
      running.delete(child);
      resolve({ code, out });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

for (const version of PROSODY_VERSIONS) {
  describe(`review #12: examples/xep0493-client.mjs as documented, on Prosody ${version}`, { timeout: 120_000 }, () => {
    let stack: ProsodyStack;
    let server: string;

    before(async () => {
      stack = await startProsodyStack({
        version,
        accounts: { 'alice@localhost': PASSWORD },
        server: { registration_key: 'registration-key-for-the-example-client-test-0123' },
      });
      server = `127.0.0.1:${stack.target.port}`;
    });
    afterEach(killRunning);
    after(async () => {
      await stack?.stop();
    });

    it(`review #12: --redirect-port fixes the loopback redirect, and the whole sequence then logs in (Prosody ${version})`, async () => {
      const port = await freePort();
      let printed: URL | undefined;
      const done = runExample(['alice@localhost', '--server', server, '--redirect-port', String(port)], {
        onOutput: (out) => {
          const m = /^\s+(http\S+\/oauth2\/authorize\?\S+)$/m.exec(out);
          if (m && !printed) printed = new URL(m[1]!);
        },
      });
      const url = await waitFor('the authorization URL', () => printed, { timeoutMs: 20_000 });
      assert.equal(url.searchParams.get('redirect_uri'), `http://127.0.0.1:${port}/callback`);
      // The user signs in and allows; the browser then lands on the example's listener.
      const landed = await authorizeInBrowser(new FormBrowser(), url.toString(), { username: 'alice@localhost', password: PASSWORD });
      assert.equal(landed.port, String(port));
      assert.equal((await fetch(landed)).status, 200);
      const run = await done;
      assert.equal(run.code, 0, run.out);
      assert.match(run.out, /^4\. logged in as alice@localhost\//m);
      assert.match(run.out, /^5\. refreshed, logged in again as alice@localhost\//m);
    });

    it(`review #12: XEP0493_REDIRECT_PORT does the same, and a bad port is a usage error (Prosody ${version})`, async () => {
      const bad = await runExample(['alice@localhost', '--server', server, '--redirect-port', 'eighty']);
      assert.equal(bad.code, 2);
      assert.match(bad.out, /not a port: eighty/);
      const port = await freePort();
      let seen = '';
      const child = runExample(['alice@localhost', '--server', server], {
        env: { XEP0493_REDIRECT_PORT: String(port) },
        onOutput: (out) => (seen = out),
      });
      await waitFor('the authorization URL', () => seen.includes('/oauth2/authorize?'), { timeoutMs: 20_000 });
      assert.ok(seen.includes(`redirect_uri=http%3A%2F%2F127.0.0.1%3A${port}%2Fcallback`), seen);
      // Answering the listener with a refusal ends the run.
      const state = /state=([^&\s]+)/.exec(seen)![1]!;
      await fetch(`http://127.0.0.1:${port}/callback?error=access_denied&state=${state}`);
      const run = await child;
      assert.equal(run.code, 1);
      assert.match(run.out, /authorization refused: access_denied/);
    });

    it(`review #12: the login checks: --password-stdin and --token log in, a wrong secret is refused (Prosody ${version})`, async () => {
      const ok = await runExample(['alice@localhost', '--server', server, '--password-stdin'], { stdin: `${PASSWORD}\n` });
      assert.equal(ok.code, 0, ok.out);
      assert.match(ok.out, /^logged in as alice@localhost\//m);
      const wrong = await runExample(['alice@localhost', '--server', server, '--password-stdin'], { stdin: 'not it\n' });
      assert.equal(wrong.code, 1);
      assert.match(wrong.out, /login as alice@localhost refused: not-authorized/);

      const { access_token } = await tokensFor(stack.server.url, 'alice@localhost', PASSWORD, 'openid xmpp:client:normal');
      const token = await runExample(['alice@localhost', '--server', server, '--token', access_token]);
      assert.equal(token.code, 0, token.out);
      assert.match(token.out, /^logged in as alice@localhost\//m);
      // A token without an XMPP login scope: refused with the RFC 7628 error.
      const { access_token: noXmpp } = await tokensFor(stack.server.url, 'alice@localhost', PASSWORD, 'openid profile');
      const refused = await runExample(['alice@localhost', '--server', server, '--token', noXmpp]);
      assert.equal(refused.code, 1);
      assert.match(refused.out, /refused: not-authorized .*"status":"invalid_token"/);
    });
  });
}
