// Issue 15: trial mode. The built server, started as `npm start` does with no
// config and no environment, must let a newcomer try the whole flow at once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { serveProcess, type ServeProcess } from '../helpers/cli.js';
import { authorizeInBrowser, authUrl, pkcePair } from '../helpers/flow.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('issue 15: trial mode on zero configuration', { timeout: 120_000 }, () => {
  let server: ServeProcess | undefined;
  after(() => server?.stop());

  it('issue 15 acceptance: demo credentials from the start-up output, a public PKCE client registered with the printed curl, a code flow through the pages to a token', async () => {
    server = await serveProcess();
    const { base, lines } = server;
    const block = await waitFor('the trial block', () => lines.find((l) => typeof l.trial === 'object'));
    assert.equal(block.level, 'warn');
    const trial = block.trial as { url: string; account: string; register_command: string };
    assert.equal(trial.url, base);
    assert.equal(trial.account, 'demo@localhost');
    // The readable block, password included, is on stderr (review #12).
    const printed = await waitFor('the trial block on stderr', () => server!.stderr().match(/Password: +(\S+)\n/));
    const password = printed[1]!;
    assert.ok(password.length >= 16, 'a random password, not a fixed one');
    for (const part of [base, 'demo@localhost', trial.register_command, 'lost on restart']) {
      assert.ok(server.stderr().includes(part), `the block names ${part}`);
    }
    // One block: the generic memory-store warning is folded into it.
    assert.equal(lines.filter((l) => String(l.msg).includes('in-memory store')).length, 1);

    // The copy-paste curl, run as printed.
    const { stdout } = await promisify(execFile)('sh', ['-c', trial.register_command]);
    const client = JSON.parse(stdout) as { client_id: string; token_endpoint_auth_method: string; redirect_uris: string[] };
    assert.equal(client.token_endpoint_auth_method, 'none');
    const redirectUri = 'http://127.0.0.1:38123/callback'; // loopback: any port (RFC 8252)

    const { verifier, challenge } = pkcePair();
    const browser = new FormBrowser();
    const landed = await authorizeInBrowser(
      browser,
      authUrl(base, { response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, scope: 'openid profile', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' }),
      { username: trial.account, password },
    );
    assert.equal(landed.origin + landed.pathname, redirectUri);
    assert.equal(landed.searchParams.get('state'), 's1');
    const res = await fetch(`${base}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: landed.searchParams.get('code')!, redirect_uri: redirectUri, client_id: client.client_id, code_verifier: verifier }),
    });
    const tokens = (await res.json()) as { access_token?: string; id_token?: string };
    assert.equal(res.status, 200, JSON.stringify(tokens));
    const info = (await (await fetch(`${base}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json()) as { sub: string };
    assert.equal(info.sub, 'xmpp:demo@localhost');

    // The password is in the stderr block only, never in the JSON log.
    assert.ok(!lines.some((l) => JSON.stringify(l).includes(password)), 'no password in the logs');
    assert.ok(!lines.some((l) => JSON.stringify(l).includes(tokens.access_token!)), 'no token in the logs');
  });

  it('issue 15 acceptance: / is an HTML landing page linking to /account, with the trial instructions', async () => {
    const { base } = server!;
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await res.text();
    for (const href of ['/account', '/oauth2/device', '/docs', '/.well-known/openid-configuration']) {
      assert.ok(html.includes(`href="${href}"`), `links ${href}`);
    }
    assert.match(html, /Trial mode/);
    assert.ok(html.includes('demo@localhost'));
    assert.ok(!html.includes(/Password: +(\S+)\n/.exec(server!.stderr())![1]!), 'never the password');
  });

  it('issue 15: an unknown path is still a JSON 404 for API clients, and a page for browsers', async () => {
    const { base } = server!;
    const api = await fetch(`${base}/no/such/thing`, { headers: { accept: 'application/json' } });
    assert.equal(api.status, 404);
    assert.equal(((await api.json()) as { error: string }).error, 'not_found');
    const plain = await fetch(`${base}/no/such/thing`);
    assert.equal(plain.status, 404);
    assert.match(plain.headers.get('content-type') ?? '', /json/);
    const page = await fetch(`${base}/no/such/thing`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(page.status, 404);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.ok((await page.text()).includes('There is no page at this address.'));
  });
});

describe('issue 15: no trial mode once there is configuration', { timeout: 120_000 }, () => {
  let redis: RedisInstance | undefined;
  let dir: string | undefined;
  after(async () => {
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const assertNoTrial = async (s: ServeProcess) => {
    try {
      await waitFor('the first start-up lines', () => s.lines.find((l) => l.msg === 'starting'));
      assert.equal(s.lines.find((l) => l.msg === 'starting')!.trial, false);
      assert.ok(!s.lines.some((l) => l.trial && typeof l.trial === 'object'), 'no trial block');
      const reg = await fetch(`${s.base}/oauth2/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(reg.status, 403, 'registration stays off without a registration_key (and says so)');
      const html = await (await fetch(`${s.base}/`)).text();
      assert.ok(html.includes('href="/account"'));
      assert.ok(!/Trial mode/.test(html));
    } finally {
      await s.stop();
    }
  };

  it('issue 15: a config file turns trial mode off (memory store and all)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'trial-off-'));
    const file = join(dir, 'config.yml');
    writeFileSync(file, 'site_name: Example\n');
    await assertNoTrial(await serveProcess({}, ['--config', file]));
  });

  it('issue 15: redis.url (from the environment) turns trial mode off', async () => {
    redis = await startRedis();
    await assertNoTrial(await serveProcess({ XMPP_OAUTH_REDIS__URL: redis.url }));
  });
});
