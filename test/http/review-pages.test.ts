// Issue 22, item 12 (what operators tripped over), over HTTP against a real
// server and Redis: /oauth2/register when registration is off, and log lines
// that name clients as people know them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { authorizeInBrowser, authUrl, PASSWORD, pkcePair } from '../helpers/flow.js';
import { captureLog } from '../helpers/log-capture.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

describe('review #12: /oauth2/register on a server without registration', { timeout: 60_000 }, () => {
  let server: TestServer;
  const captured = captureLog('info');
  before(async () => {
    server = await startServer({}, { redis: true, log: captured.log });
  });
  after(() => server?.stop());

  it('review #12: /oauth2/register says registration is disabled (403 access_denied, RFC 7591 error JSON), not 404', async () => {
    for (const method of ['POST', 'GET'] as const) {
      const res = await fetch(`${server.url}/oauth2/register`, {
        method,
        ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'] }) } : {}),
      });
      assert.equal(res.status, 403, method);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const body = (await res.json()) as { error: string; error_description: string };
      assert.equal(body.error, 'access_denied');
      assert.match(body.error_description, /registration is disabled on this server/);
    }
    const line = captured.lines().find((l) => l.msg === 'oauth request refused' && l.path === '/oauth2/register');
    assert.ok(line, 'an info line');
    assert.equal(line.level, 30);
  });
});

describe('review #12: log lines name clients by their name and a short id', { timeout: 60_000 }, () => {
  let server: TestServer;
  const captured = captureLog('info');
  const REGISTRATION_KEY = 'review-12-registration-key-0123456789abcdef';
  before(async () => {
    server = await startServer({ registration_key: REGISTRATION_KEY }, { redis: true, log: captured.log });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server?.stop());

  const approval = (clientId: (id: string) => boolean) =>
    waitFor('the approval line', () => captured.lines().find((l) => l.msg === 'authorization approved' && clientId(String(l.client_id))));

  it('review #12: a registered client (a JWT id) is logged by its client_name and the short id its tokens carry, never a JWT prefix', async () => {
    const reg = await fetch(`${server.url}/oauth2/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Review Notes App', client_uri: 'https://notes.example/', application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1/callback'] }),
    });
    assert.equal(reg.status, 201, await reg.clone().text());
    const { client_id: clientId } = (await reg.json()) as { client_id: string };
    assert.ok(clientId.length > 100, 'a long, self-contained id');
    const { challenge } = pkcePair();
    await authorizeInBrowser(new FormBrowser(), authUrl(server.url, {
      response_type: 'code', client_id: clientId, redirect_uri: 'http://127.0.0.1:41234/callback', scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256',
    }), { username: 'alice@localhost', password: PASSWORD });
    const line = await approval((id) => id !== 'webapp');
    assert.equal(line.client, 'Review Notes App');
    assert.match(String(line.client_id), /^h:[\w-]{27}$/, 'the digest form of the token claim');
    const prefix = clientId.slice(0, 24);
    assert.ok(!captured.raw.some((l) => l.includes(prefix)), 'no piece of the JWT id in any line');
  });

  it('review #12: a configured client is logged by its name and its id', async () => {
    await tokensFor(server.url, 'alice@localhost', PASSWORD, 'openid');
    const line = await approval((id) => id === 'webapp');
    assert.equal(line.client, 'Test Web App');
    assert.equal(line.client_id, 'webapp');
  });
});
