// Issue 23: SCRAM-SHA-1 and SCRAM-SHA-256 through our Prosody module, on Prosody
// 0.12 and 13. Prosody runs the exchange with a verifier it asks the component
// for; a real client library pinned to one mechanism logs in, as Conversations
// and Monal do. Accounts imported from an existing Prosody log in unchanged.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { silentLogger } from '../../src/log.js';
import { readProsodyDataDir } from '../../src/import/prosody-data.js';
import { importAccounts } from '../../src/import/run.js';
import { FormBrowser } from '../helpers/browser.js';
import { authorizeInBrowser, pkcePair } from '../helpers/flow.js';
import { captureLog } from '../helpers/log-capture.js';
import { pinnedLogin, type Mechanism } from '../helpers/pinned-login.js';
import { prosodyctlRegister } from '../helpers/prosody-accounts.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { PROSODY_VERSIONS, startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { makeCerts, type TestCerts } from '../helpers/tls-certs.js';
import { rawSasl } from '../helpers/xmpp-client.js';

const OFFER = 'xmpp_oauth_scram = { "SCRAM-SHA-1", "SCRAM-SHA-256" }';
const PASSWORD = 'alice password 1234';
const MECHANISMS: Mechanism[] = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'PLAIN'];
const PER_ACCOUNT = 4;

/** An authorization request of the test's web client, to sign in on the login page. */
const webLogin = () => `${stackUrl}/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'webapp', redirect_uri: 'https://app.example/cb', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', state: 's' })}`;
let stackUrl = '';

/** The server-first message of a SCRAM exchange for `user` (the exchange then ends with a wrong proof). */
async function serverFirst(stack: ProsodyStack, user: string, mechanism = 'SCRAM-SHA-256'): Promise<{ reply: string; final: string | undefined }> {
  const sasl = await rawSasl(stack.target);
  try {
    const nonce = randomBytes(12).toString('base64');
    const first = await sasl.auth(mechanism, `n,,n=${user},r=${nonce}`);
    if (first.name !== 'challenge') return { reply: first.condition ?? first.name, final: undefined };
    const r = /r=([^,]+)/.exec(first.data)![1];
    const final = await sasl.respond(`c=biws,r=${r},p=${randomBytes(mechanism === 'SCRAM-SHA-1' ? 20 : 32).toString('base64')}`);
    return { reply: first.data, final: final.condition ?? final.name };
  } finally {
    sasl.close();
  }
}

for (const version of PROSODY_VERSIONS) {
  describe(`SCRAM through mod_auth_xmpp_oauth on Prosody ${version}`, () => {
    let stack: ProsodyStack;
    let source: ProsodyInstance;
    const captured = captureLog('debug');

    before(async () => {
      stack = await startProsodyStack({
        version,
        prosody: { extraConfig: OFFER },
        server: { login_throttle: { per_account: PER_ACCOUNT, per_address: 1000, window: 60 } },
        accounts: { 'alice@localhost': PASSWORD },
        log: captured.log,
      });
      stackUrl = stack.server.url;
      // An existing Prosody 0.12 server whose accounts move over (internal_hashed, made by prosodyctl).
      source = await startProsody({ components: [{ domain: 'unused.localhost', secret: 'unused' }], virtualHosts: [{ host: 'localhost', options: { authentication: 'internal_hashed' } }] });
      prosodyctlRegister(source, 'olga', 'localhost', 'olga old password');
      prosodyctlRegister(source, 'pete', 'localhost', 'pete old password');
    });
    after(async () => {
      await stack?.stop();
      await source?.stop();
    });

    it('offers SCRAM-SHA-1 and SCRAM-SHA-256 beside PLAIN (no -PLUS without TLS)', async () => {
      const sasl = await rawSasl(stack.target);
      sasl.close();
      for (const m of ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'PLAIN']) assert.ok(sasl.mechanisms.includes(m), `${m} offered: ${sasl.mechanisms}`);
      assert.ok(!sasl.mechanisms.some((m) => m.endsWith('-PLUS')), 'channel binding needs TLS');
    });

    it('the password set here logs in with every mechanism, pinned; a wrong one fails with each', async () => {
      for (const mechanism of MECHANISMS) {
        assert.deepEqual(await pinnedLogin(stack.target, 'alice', PASSWORD, mechanism), { ok: true, mechanism }, mechanism);
        assert.equal((await pinnedLogin(stack.target, 'alice', `${PASSWORD}!`, mechanism)).ok, false, `${mechanism}: wrong password`);
      }
    });

    it('accounts imported from an existing Prosody log in with their old password: SCRAM-SHA-1 at once, SCRAM-SHA-256 after the first other login', async () => {
      const accounts = new Accounts(stack.server.app.store, { per_account: 100, per_address: 100, window: 60 }, silentLogger);
      const report = await importAccounts(accounts, stack.server.app.store, await readProsodyDataDir(join(source.dir, 'data')), { hosts: ['localhost'], log: silentLogger });
      assert.deepEqual(report.created.sort(), ['olga@localhost', 'pete@localhost']);
      assert.deepEqual(await pinnedLogin(stack.target, 'olga', 'olga old password', 'SCRAM-SHA-1'), { ok: true, mechanism: 'SCRAM-SHA-1' });
      assert.equal((await pinnedLogin(stack.target, 'olga', 'olga old passwor', 'SCRAM-SHA-1')).ok, false);
      // No SCRAM-SHA-256 verifier yet: that login fails (the docs say to offer only SCRAM-SHA-1 until then).
      assert.equal((await pinnedLogin(stack.target, 'olga', 'olga old password', 'SCRAM-SHA-256')).ok, false);
      assert.equal((await pinnedLogin(stack.target, 'olga', 'olga old password', 'PLAIN')).ok, true);
      assert.deepEqual(await pinnedLogin(stack.target, 'olga', 'olga old password', 'SCRAM-SHA-256'), { ok: true, mechanism: 'SCRAM-SHA-256' });
      assert.deepEqual(await pinnedLogin(stack.target, 'olga', 'olga old password', 'SCRAM-SHA-1'), { ok: true, mechanism: 'SCRAM-SHA-1' }, 'SCRAM-SHA-1 kept');
    });

    it('an imported account signs in on the web page with its old password, which adds argon2id and SCRAM-SHA-256 (then SCRAM-SHA-256 logs in)', async () => {
      const before = (await stack.server.app.store.getAccount('pete@localhost'))!;
      assert.equal(before.passwordHash, '');
      const callback = await authorizeInBrowser(new FormBrowser(), webLogin(), { username: 'pete@localhost', password: 'pete old password' });
      assert.ok(callback.searchParams.get('code'), `signed in: ${callback}`);
      const after = (await stack.server.app.store.getAccount('pete@localhost'))!;
      assert.match(after.passwordHash, /^\$argon2id\$/);
      assert.deepEqual(after.scram!['SHA-1'], before.scram!['SHA-1'], 'SCRAM-SHA-1 kept as imported');
      assert.deepEqual(await pinnedLogin(stack.target, 'pete', 'pete old password', 'SCRAM-SHA-256'), { ok: true, mechanism: 'SCRAM-SHA-256' });
    });

    it('an unknown account gets the same exchange as a known one up to the failed proof, with a salt stable across attempts', async () => {
      const ghost1 = await serverFirst(stack, 'ghost');
      const ghost2 = await serverFirst(stack, 'ghost');
      const known = await serverFirst(stack, 'pete');
      const shape = (s: string) => s.replace(/r=[^,]+/, 'r=*').replace(/s=[^,]+/, (m) => `s=<${Buffer.from(m.slice(2), 'base64').length > 0 ? 'salt' : ''}>`);
      assert.equal(ghost1.final, 'not-authorized');
      assert.equal(known.final, 'not-authorized');
      assert.equal(/s=([^,]+)/.exec(ghost1.reply)![1], /s=([^,]+)/.exec(ghost2.reply)![1], 'the decoy salt is stable');
      assert.equal(shape(ghost1.reply), shape(known.reply.replace(/i=\d+/, 'i=10000')));
      assert.match(ghost1.reply, /,i=10000$/, 'the same iteration count as real verifiers');
    });

    it('throttling: a burst of SCRAM attempts on one account hands out at most the limit of verifiers', async () => {
      const results = await Promise.all(Array.from({ length: PER_ACCOUNT * 3 }, () => serverFirst(stack, 'throttled-user', 'SCRAM-SHA-1')));
      const challenged = results.filter((r) => r.final !== undefined).length;
      assert.ok(challenged <= PER_ACCOUNT, `${challenged} verifiers for a limit of ${PER_ACCOUNT}`);
      assert.ok(results.some((r) => r.reply === 'temporary-auth-failure'), 'the rest are told to come back later');
    });

    // Throttle accounting is the component's alone: the newest Prosody only (CI time, issue 24 #1).
    if (version === PROSODY_VERSIONS[0]) it('a success gives the attempt back: many logins in a row never use the budget up', async () => {
      for (let i = 0; i < PER_ACCOUNT + 2; i++) {
        assert.equal((await pinnedLogin(stack.target, 'alice', PASSWORD, 'SCRAM-SHA-256')).ok, true, `login ${i + 1}`);
      }
    });

    it('a password change on /account updates every verifier: the old password fails for every mechanism, the new one works', async () => {
      const browser = new FormBrowser();
      await authorizeInBrowser(browser, webLogin(), { username: 'alice@localhost', password: PASSWORD });
      const csrf = /name="csrf" value="([^"]+)"/.exec(await (await browser.get(`${stack.server.url}/account`)).text())![1]!;
      const res = await browser.post(`${stack.server.url}/account/password`, { csrf, current: PASSWORD, password: 'alice new password 5678', confirm: 'alice new password 5678' });
      assert.equal(res.status, 303, await res.text());
      for (const mechanism of MECHANISMS) {
        assert.equal((await pinnedLogin(stack.target, 'alice', PASSWORD, mechanism)).ok, false, `${mechanism}: old password`);
        assert.equal((await pinnedLogin(stack.target, 'alice', 'alice new password 5678', mechanism)).ok, true, `${mechanism}: new password`);
      }
    });

    it('no verifier, salt or key appears in any log', async () => {
      const account = (await stack.server.app.store.getAccount('alice@localhost'))!;
      const secrets = Object.values(account.scram!).flatMap((v) => [v!.salt, v!.storedKey, v!.serverKey]);
      const logs = [stack.prosody.log(), captured.raw.join('\n')];
      assert.ok(captured.raw.some((l) => /"mechanism":"SCRAM-SHA-256"/.test(l) && /xmpp login accepted/.test(l)), 'SCRAM logins are logged');
      for (const secret of secrets) for (const log of logs) assert.equal(log.includes(secret), false, 'a verifier part reached a log');
    });
  });
}

for (const version of PROSODY_VERSIONS) {
  describe(`SCRAM-*-PLUS (channel binding) through mod_auth_xmpp_oauth on Prosody ${version}`, () => {
    let stack: ProsodyStack;
    let certs: TestCerts;

    before(async () => {
      certs = makeCerts();
      // Prosody runs as its own user: it must read the key and certificate.
      for (const f of [certs.dir, certs.serverKey, certs.serverCert]) chmodSync(f, f === certs.dir ? 0o755 : 0o644);
      stack = await startProsodyStack({
        version,
        prosody: { modules: ['tls'], extraConfig: `${OFFER}\nssl = { key = ${JSON.stringify(certs.serverKey)}; certificate = ${JSON.stringify(certs.serverCert)}; }` },
        accounts: { 'alice@localhost': PASSWORD },
      });
    });
    after(async () => {
      await stack?.stop();
      certs?.cleanup();
    });

    it('over TLS 1.2 Prosody offers SCRAM-SHA-1-PLUS and SCRAM-SHA-256-PLUS; tls-unique binding with our verifiers logs in, a wrong password fails', async () => {
      for (const mechanism of ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS'] as const) {
        assert.deepEqual(await pinnedLogin(stack.target, 'alice', PASSWORD, mechanism, certs.ca), { ok: true, mechanism }, mechanism);
        assert.equal((await pinnedLogin(stack.target, 'alice', `${PASSWORD}!`, mechanism, certs.ca)).ok, false, `${mechanism}: wrong password`);
      }
    });
  });
}
