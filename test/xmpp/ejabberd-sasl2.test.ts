// Issue 24 #7: ejabberd 24.12 as an operator runs it, with STARTTLS required,
// offers SASL2 (XEP-0388) in core. Our doors must work inside it: PLAIN through
// the extauth bridge (password, access token, app password) and X-OAUTH2
// through the REST lookup, seen from a raw SASL2 client over TLS.
//
// mod_auth_fast (XEP-0484) is loaded here although our example configuration
// leaves it off, to show why: 24.12 mints FAST tokens after a login we decided
// and then accepts them without asking us, and it has no way to drop them (no
// admin command; tokens are cleared on kick/password change only from 25.07).
// Revoking the grant ends the live session (kick_user), but the FAST token
// still logs in.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { createAppPassword } from '../helpers/app-passwords.js';
import { csrfOf, FormBrowser } from '../helpers/browser.js';
import { startEjabberdStack, type EjabberdStack } from '../helpers/ejabberd-stack.js';
import { fastResponse, sasl2Stream, type Sasl2Stream } from '../helpers/sasl2-client.js';
import { makeCerts, type TestCerts } from '../helpers/tls-certs.js';
import { revoke, tokensFor } from '../helpers/tokens.js';

const LOOKUP_SECRET = 'lookup-secret-0123456789abcdef';
const PASSWORD = 'erin password 1234';
const AGENT = { id: 'd5e1c1a0-24a7-4c1e-9a57-2412ejabberd', software: 'Conversations', device: 'Pixel' };
const plain = (user: string, secret: string) => `\0${user}\0${secret}`;


describe('issue 24 #7: ejabberd 24.12 with STARTTLS: SASL2 through the extauth bridge and X-OAUTH2', { timeout: 120_000 }, () => {
  let certs: TestCerts;
  let stack: EjabberdStack | undefined;
  let ca: Buffer;
  const open: Sasl2Stream[] = [];
  const stream = async (tls = true) => {
    const s = await sasl2Stream(stack!.target, 'erin', tls ? { starttls: { ca } } : {});
    open.push(s);
    return s;
  };
  /** A SASL2 login with a bound resource; the stream stays open. */
  const session = async (mechanism: string, initial: string, opts: { requestToken?: string } = {}) => {
    const s = await stream();
    const outcome = await s.authenticate(mechanism, initial, { agent: AGENT, ...opts });
    return { s, outcome };
  };
  const fails = async (mechanism: string, initial: string | Buffer, useFast = false) => {
    const s = await stream();
    const o = await s.authenticate(mechanism, initial, { agent: AGENT, useFast });
    s.close();
    return o.name === 'failure';
  };
  const log = () => stack!.ejabberd.log().slice(-3000);

  before(async () => {
    certs = makeCerts();
    ca = readFileSync(certs.ca);
    stack = await startEjabberdStack({
      version: '24.12',
      tls: { certFile: certs.serverCert, keyFile: certs.serverKey },
      authFast: true,
      lookupSecret: LOOKUP_SECRET,
      httpApi: true,
      accounts: { 'erin@localhost': PASSWORD },
    });
  });
  after(async () => {
    for (const s of open) s.close();
    await stack?.stop();
    certs?.cleanup();
  });

  it('issue 24 #7 (ejabberd 24.12): SASL2 with PLAIN and X-OAUTH2 is offered after STARTTLS, and nothing before it', async () => {
    const clear = await stream(false);
    assert.deepEqual(clear.mechanisms, [], 'no SASL2 on the unencrypted stream');
    clear.close();
    const s = await stream();
    assert.ok(s.mechanisms.includes('PLAIN'), `SASL2 mechanisms: ${s.mechanisms.join(' ')}`);
    assert.ok(s.mechanisms.includes('X-OAUTH2'), `SASL2 mechanisms: ${s.mechanisms.join(' ')}`);
    assert.ok(!s.mechanisms.some((m) => m.startsWith('SCRAM')), 'no SCRAM: the bridge holds no verifiers');
    assert.ok(!s.mechanisms.includes('OAUTHBEARER'), 'ejabberd has no OAUTHBEARER');
    s.close();
  });

  it('issue 24 #7 (ejabberd 24.12): SASL2 PLAIN through the bridge: password, access token and app password log in and bind; wrong ones fail', async () => {
    const { access_token } = await tokensFor(stack!.server.url, 'erin@localhost', PASSWORD);
    const browser = new FormBrowser();
    const page = await (await browser.get(`${stack!.server.url}/account`)).text();
    assert.equal((await browser.submit(stack!.server.url, page, { username: 'erin', password: PASSWORD })).status, 303);
    const { password: appPassword } = await createAppPassword(browser, stack!.server.url, 'Monal on iPad');
    for (const [what, secret] of [['password', PASSWORD], ['access token', access_token], ['app password', appPassword]] as const) {
      const { s, outcome } = await session('PLAIN', plain('erin', secret));
      assert.equal(outcome.name, 'success', `${what}: ${outcome.raw}\n${log()}`);
      assert.match(await s.bind(`sasl2-${what.replace(/ /g, '-')}`), /^erin@localhost\//, what);
      s.close();
    }
    assert.equal(await fails('PLAIN', plain('erin', 'wrong password')), true, 'wrong password');
    assert.equal(await fails('PLAIN', plain('erin', 'abcd efgh ijkl mnop qrst')), true, 'made-up app password');
  });

  it('issue 24 #7 (ejabberd 24.12): SASL2 X-OAUTH2 through the REST lookup: a live token logs in, a revoked one fails', async () => {
    const { access_token, refresh_token } = await tokensFor(stack!.server.url, 'erin@localhost', PASSWORD);
    const { s, outcome } = await session('X-OAUTH2', plain('erin', access_token));
    assert.equal(outcome.name, 'success', `${outcome.raw}\n${log()}`);
    await s.bind('sasl2-xoauth2');
    s.close();
    await revoke(stack!.server.url, refresh_token);
    assert.equal(await fails('X-OAUTH2', plain('erin', access_token)), true);
  });

  it('issue 24 #7 (ejabberd 24.12): with mod_auth_fast on, revoking the grant on /account ends the live session within 5 s and refuses the token, but the FAST token still logs in', async () => {
    const base = stack!.server.url;
    const { access_token } = await tokensFor(base, 'erin@localhost', PASSWORD);
    const gid = (await stack!.server.app.core.signer.verifyAccessToken(access_token))?.gid;
    assert.ok(gid);
    const { s, outcome } = await session('PLAIN', plain('erin', access_token), { requestToken: 'HT-SHA-256-NONE' });
    assert.equal(outcome.name, 'success', `${outcome.raw}\n${log()}`);
    assert.ok(outcome.token, `24.12 mints a FAST token: ${outcome.raw}`);
    await s.bind('fast-origin');

    const browser = new FormBrowser();
    const page = await (await browser.get(`${base}/account`)).text();
    assert.equal((await browser.submit(base, page, { username: 'erin', password: PASSWORD })).status, 303);
    const account = await (await browser.get(`${base}/account`)).text();
    const res = await browser.post(`${base}/account/revoke`, { csrf: csrfOf(account), grant: gid });
    assert.equal(res.headers.get('location'), '/account?notice=account.notice.revoked');
    const ended = await Promise.race([s.ended, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
    assert.deepEqual(ended, { condition: 'policy-violation', text: 'has been kicked' }, 'the live session was kicked within 5 s');
    assert.equal(await fails('PLAIN', plain('erin', access_token)), true, 'the token is refused');

    // What goes wrong with mod_auth_fast on: ejabberd alone checks the token, and nothing of ours can drop it.
    const again = await stream();
    assert.ok(again.fast.includes('HT-SHA-256-NONE'), `FAST offered: ${again.fast.join(' ')}`);
    const fast = await again.authenticate('HT-SHA-256-NONE', fastResponse('erin', outcome.token), { agent: AGENT, useFast: true });
    assert.equal(fast.name, 'success', `a FAST login after the revocation still succeeds on 24.12: ${fast.raw}`);
    again.close();
  });
});

describe('issue 24 #7: ejabberd 23.01 with STARTTLS offers no SASL2 (it came in 24.02)', { timeout: 60_000 }, () => {
  let certs: TestCerts;
  let stack: EjabberdStack | undefined;
  before(async () => {
    certs = makeCerts();
    stack = await startEjabberdStack({ version: '23.01', tls: { certFile: certs.serverCert, keyFile: certs.serverKey }, lookupSecret: LOOKUP_SECRET });
  });
  after(async () => {
    await stack?.stop();
    certs?.cleanup();
  });

  it('issue 24 #7 (ejabberd 23.01): over STARTTLS, PLAIN and X-OAUTH2 in plain SASL, no SASL2 and no FAST', async () => {
    const s = await sasl2Stream(stack!.target, 'erin', { starttls: { ca: readFileSync(certs.ca) } });
    s.close();
    const sasl = /<mechanisms\b[^>]*urn:ietf:params:xml:ns:xmpp-sasl[^>]*>([\s\S]*?)<\/mechanisms>/.exec(s.features)?.[1] ?? '';
    assert.match(sasl, /<mechanism>PLAIN<\/mechanism>/, s.features);
    assert.match(sasl, /<mechanism>X-OAUTH2<\/mechanism>/, s.features);
    assert.deepEqual(s.mechanisms, [], 'no SASL2');
    assert.deepEqual(s.fast, [], 'no FAST');
  });
});

describe('issue 24 #7: our ejabberd example configuration', () => {
  it('issue 24 #7: contrib/ejabberd/ejabberd-example.yml leaves mod_auth_fast off and requires STARTTLS', () => {
    const config = parse(readFileSync(new URL('../../contrib/ejabberd/ejabberd-example.yml', import.meta.url), 'utf8')) as {
      modules: Record<string, unknown>;
      listen: Array<{ module: string; starttls_required?: boolean }>;
    };
    assert.ok(config.modules.mod_roster !== undefined, 'the modules list was read');
    assert.equal('mod_auth_fast' in config.modules, false, 'FAST tokens would outlive revoked grants on 24.12');
    assert.equal(config.listen.find((l) => l.module === 'ejabberd_c2s')?.starttls_required, true);
  });
});
