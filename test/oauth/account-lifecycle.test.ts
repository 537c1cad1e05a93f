// Issue 12 #1: login sessions and grants must not outlive a password change or
// an account removal, and must not pass to the next owner of a JID. Driven as
// the review did: the operator's CLI, the extauth bridge, a browser's cookie.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { BIN, runCli } from '../helpers/cli.js';
import { PASSWORD, authUrl, authorizeInBrowser, pkcePair, tokenCall } from '../helpers/flow.js';
import { CLIENT_SECRET, startServer, type TestServer } from '../helpers/server.js';

const NEW_PASSWORD = 'a brand new password 42';

/** One request line to the generic extauth bridge; its answer line. */
function bridgeAnswers(config: string, requests: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--config', config, 'extauth', '--protocol', 'generic'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out.split('\n').filter(Boolean)));
    child.stdin.end(requests.map((r) => `${r}\n`).join(''));
  });
}

describe('account lifecycle: sessions and grants', () => {
  let server: TestServer;
  let dir: string;
  let config: string;

  before(async () => {
    server = await startServer({ xmpp: { enabled: false, hosts: ['localhost'] } });
    dir = mkdtempSync(join(tmpdir(), 'lifecycle-test-'));
    config = join(dir, 'config.yml');
    writeFileSync(config, `issuer: ${server.url}\nredis:\n  url: ${server.redisUrl}\nxmpp:\n  hosts: [localhost]\nlog:\n  level: silent\n`);
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (args: string[], input = '') => runCli(['--config', config, 'user', ...args], { input });

  const codeUrl = (challenge: string) =>
    authUrl(server.url, {
      response_type: 'code', client_id: 'webapp', redirect_uri: 'https://app.example/cb', scope: 'openid offline_access xmpp',
      code_challenge: challenge, code_challenge_method: 'S256', state: 's',
    });

  /** Signs `browser` in through the authorization flow and returns the tokens. */
  async function signIn(browser: FormBrowser, username: string, password = PASSWORD) {
    const { verifier, challenge } = pkcePair();
    const cb = await authorizeInBrowser(browser, codeUrl(challenge), { username, password });
    const res = await tokenCall(server.url, { grant_type: 'authorization_code', code: cb.searchParams.get('code')!, code_verifier: verifier, redirect_uri: 'https://app.example/cb' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { access_token: string; refresh_token: string };
  }

  /** What an existing cookie gets from /oauth2/authorize: a code (still signed in) or the login page. */
  async function authorizeWithCookie(browser: FormBrowser): Promise<'code' | 'login' | string> {
    const res = await browser.get(codeUrl(pkcePair().challenge));
    if (res.status === 303 || res.status === 302) {
      const location = new URL(res.headers.get('location')!, server.url);
      return location.searchParams.get('code') ? 'code' : location.toString();
    }
    const html = await res.text();
    return html.includes('name="password"') ? 'login' : html.slice(0, 200);
  }

  const signedInAs = async (browser: FormBrowser) => /Signed in as ([^.<]+)/.exec(await (await browser.get(`${server.url}/account`)).text())?.[1] ?? null;

  const introspect = async (token: string) =>
    ((await (await fetch(`${server.url}/oauth2/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`webapp:${CLIENT_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ token }),
    })).json()) as { active: boolean }).active;

  it('issue 12 #1: passwd and remove end login sessions, removal refuses the account\u2019s tokens, a re-added JID inherits nothing', async () => {
    await server.app.accounts.create('carol@localhost', PASSWORD);
    const first = new FormBrowser();
    await signIn(first, 'carol@localhost');
    assert.equal(await authorizeWithCookie(first), 'code', 'signed in before the change');

    const passwd = await cli(['passwd', 'carol@localhost', '--password-stdin'], NEW_PASSWORD);
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.equal(await authorizeWithCookie(first), 'login', 'the password change ended the session');
    assert.equal(await signedInAs(first), null);

    const second = new FormBrowser();
    const tokens = await signIn(second, 'carol@localhost', NEW_PASSWORD);
    assert.deepEqual(await bridgeAnswers(config, [`auth:carol:localhost:${tokens.access_token}`]), ['1'], 'a token login works while the account exists');

    const removed = await cli(['remove', 'carol@localhost']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(await authorizeWithCookie(second), 'login', 'the removal ended the session: no code for a removed account');
    assert.deepEqual(await bridgeAnswers(config, [`auth:carol:localhost:${tokens.access_token}`, 'isuser:carol:localhost']), ['0', '0']);
    assert.equal(await introspect(tokens.access_token), false);
    assert.equal(await introspect(tokens.refresh_token), false);
    assert.deepEqual(await server.app.store.listGrants('carol@localhost'), []);

    const added = await cli(['add', 'carol@localhost', '--password-stdin'], 'someone else entirely');
    assert.equal(added.code, 0, added.stderr);
    assert.equal(await signedInAs(second), null, 'the next owner of the JID is not signed in by the old cookie');
    assert.equal(await authorizeWithCookie(second), 'login');
  });

  it('issue 12 #1: a token for an account that no longer exists fails every login door, even if its grant was left behind', async () => {
    await server.app.accounts.create('dave@localhost', PASSWORD);
    const tokens = await signIn(new FormBrowser(), 'dave@localhost');
    // Remove the account record only (as an interrupted removal would leave it): the grant is still there.
    assert.equal(await server.app.store.removeAccount('dave@localhost'), true);
    assert.equal(await server.app.store.listGrants('dave@localhost').then((g) => g.length), 1);
    assert.deepEqual(await bridgeAnswers(config, [`auth:dave:localhost:${tokens.access_token}`]), ['0']);
    const info = await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(info.status, 401);
    assert.equal(await introspect(tokens.access_token), false);
    assert.equal(await introspect(tokens.refresh_token), false);
    // Re-created by someone else: still refused (the grant predates the account).
    await server.app.accounts.create('dave@localhost', 'a different owner pw');
    assert.deepEqual(await bridgeAnswers(config, [`auth:dave:localhost:${tokens.access_token}`]), ['0']);
    assert.equal(await introspect(tokens.access_token), false, 'not active as the new owner either');
    assert.equal(await introspect(tokens.refresh_token), false);
  });

  it('issue 12 #1: adding a JID again revokes grants an interrupted removal left behind', async () => {
    await server.app.accounts.create('hank@localhost', PASSWORD);
    const tokens = await signIn(new FormBrowser(), 'hank@localhost');
    assert.equal(await server.app.store.removeAccount('hank@localhost'), true); // the account record only
    const added = await cli(['add', 'hank@localhost', '--password-stdin'], 'the next owner pw');
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(await server.app.store.listGrants('hank@localhost'), []);
    const refreshed = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(refreshed.body.error, 'invalid_grant', 'the old refresh token is dead');
  });

  it('issue 12 #1: /account signs out everywhere else, keeping this browser', async () => {
    await server.app.accounts.create('erin@localhost', PASSWORD);
    const here = new FormBrowser();
    const elsewhere = new FormBrowser();
    await signIn(here, 'erin@localhost');
    await signIn(elsewhere, 'erin@localhost');
    const page = await (await here.get(`${server.url}/account`)).text();
    const form = page.slice(page.indexOf('<form method="post" action="/account/sessions/end-others"'));
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    // CSRF-protected like every form.
    assert.equal((await here.post(`${server.url}/account/sessions/end-others`, { csrf: 'forged' })).status, 403);
    assert.equal(await signedInAs(elsewhere), 'erin@localhost');
    const stolenCopy = new FormBrowser();
    stolenCopy.copyCookiesFrom(here);
    assert.equal(await signedInAs(stolenCopy), 'erin@localhost');
    const res = await here.submit(server.url, form, { csrf });
    assert.equal(res.status, 303);
    assert.equal(await signedInAs(stolenCopy), null, 'a copy of this browser\u2019s old cookie is signed out too');
    assert.equal(res.headers.get('location'), '/account?notice=account.notice.others_signed_out');
    assert.equal(await signedInAs(here), 'erin@localhost');
    assert.equal(await signedInAs(elsewhere), null);
  });

  it('issue 12 #1: a password change on /account needs the current password and offers to revoke grants', async () => {
    await server.app.accounts.create('frank@localhost', PASSWORD);
    const here = new FormBrowser();
    const elsewhere = new FormBrowser();
    const tokens = await signIn(here, 'frank@localhost');
    await signIn(elsewhere, 'frank@localhost');
    const csrfOf = async () => /name="csrf" value="([^"]+)"/.exec(await (await here.get(`${server.url}/account`)).text())![1]!;

    const wrong = await here.post(`${server.url}/account/password`, { csrf: await csrfOf(), current: 'not the password', password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /current password is not right/);
    const mismatch = await here.post(`${server.url}/account/password`, { csrf: await csrfOf(), current: PASSWORD, password: NEW_PASSWORD, confirm: 'something else' });
    assert.equal(mismatch.status, 400);
    assert.equal(await signedInAs(elsewhere), 'frank@localhost', 'nothing changed yet');

    // Without the box ticked: sessions elsewhere end, apps keep access.
    const kept = await here.post(`${server.url}/account/password`, { csrf: await csrfOf(), current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    assert.equal(kept.headers.get('location'), '/account?notice=account.notice.password_changed');
    assert.equal(await signedInAs(here), 'frank@localhost');
    assert.equal(await signedInAs(elsewhere), null);
    assert.equal(await introspect(tokens.access_token), true);
    assert.equal((await server.app.accounts.verify('frank@localhost', NEW_PASSWORD)).ok, true);

    // Ticked: every grant goes too.
    const revoked = await here.post(`${server.url}/account/password`, { csrf: await csrfOf(), current: NEW_PASSWORD, password: PASSWORD, confirm: PASSWORD, revoke_grants: 'on' });
    assert.equal(revoked.headers.get('location'), '/account?notice=account.notice.password_changed_revoked');
    assert.equal(await introspect(tokens.access_token), false);
    assert.equal(await introspect(tokens.refresh_token), false);
    assert.equal(await signedInAs(here), 'frank@localhost');
  });

  it('issue 12 #1: an XMPP setpass ends web sessions and keeps grants; removeuser revokes them', async () => {
    await server.app.accounts.create('gina@localhost', PASSWORD);
    const browser = new FormBrowser();
    const tokens = await signIn(browser, 'gina@localhost');
    assert.deepEqual(await bridgeAnswers(config, [`setpass:gina:localhost:${NEW_PASSWORD}`]), ['1']);
    assert.equal(await signedInAs(browser), null);
    assert.equal(await introspect(tokens.access_token), true, 'grants are kept by default (setpass_revokes_grants: false)');
    assert.deepEqual(await bridgeAnswers(config, ['removeuser:gina:localhost', `auth:gina:localhost:${tokens.access_token}`]), ['1', '0']);
    assert.equal(await introspect(tokens.refresh_token), false);
  });
});
