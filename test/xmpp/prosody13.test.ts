// Review 22 #6: what an operator found on Prosody 13 (account creation through
// Prosody, prosodyctl, roles, OAUTHBEARER's failure conditions), each checked on
// a real Prosody with our module and a real xmpp-oauth attached. prosodyctl
// always runs with --config pointing at the throwaway server's config.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROSODY13_ROOT, PROSODY_VERSIONS, type ProsodyInstance } from '../helpers/prosody.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { tokensFor } from '../helpers/tokens.js';
import { disableAccount } from '../../src/oauth/account-life/account-admin.js';
import { closedWithin } from '../helpers/cam.js';
import { chatSession, oauthbearerMessage, plainLogin, rawSasl } from '../helpers/xmpp-client.js';

const ALICE_PASSWORD = 'alice password 1234';
const LOGIN_SCOPE = 'openid xmpp:client:normal offline_access';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs prosodyctl as the prosody user against the test server's own config.
 * Asynchronous on purpose: xmpp-oauth runs in this process and must answer
 * while prosodyctl waits on the running Prosody.
 */
function prosodyctl(prosody: ProsodyInstance, args: string[], input = ''): Promise<Run> {
  const bin = prosody.version === '13' ? join(PROSODY13_ROOT, 'usr/bin/prosodyctl') : 'prosodyctl';
  return new Promise((resolve, reject) => {
    const child = spawn('runuser', ['-u', 'prosody', '--', bin, '--config', join(prosody.dir, 'prosody.cfg.lua'), ...args], {
      cwd: prosody.dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** The account's primary role, as Prosody 13's admin shell reports it. */
async function roleOf(prosody: ProsodyInstance, jid: string): Promise<string> {
  const run = await prosodyctl(prosody, ['shell', `user:role(${JSON.stringify(jid)})`]);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const m = /OK: (prosody:[a-z]+)/.exec(run.stdout);
  assert.ok(m, run.stdout);
  return m[1]!;
}

describe('review #6 on Prosody 13: accounts created, changed and removed through Prosody, and their roles', { timeout: 240_000 }, () => {
  let stack: ProsodyStack;

  before(async () => {
    stack = await startProsodyStack({
      version: '13',
      accounts: { 'alice@localhost': ALICE_PASSWORD },
      moduleOptions: { allow_registration: true, min_seconds_between_registrations: 0 },
      prosody: { modules: ['admin_shell', 'register'] },
    });
  });

  after(async () => {
    await stack?.stop();
  });

  it('review #6: in-band registration (XEP-0077) creates the account in xmpp-oauth, which then logs in as prosody:registered', async () => {
    const raw = await rawSasl(stack.target);
    try {
      const [reply] = await raw.exchange(
        `<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>newbie</username><password>newbie password 1234</password></query></iq>`,
        /<iq\b[^>]*\bid=['"]reg1['"][^>]*>/,
      );
      assert.match(reply, /type=['"]result['"]/, reply);
    } finally {
      raw.close();
    }
    assert.ok((await stack.server.app.accounts.list()).includes('newbie@localhost'));
    assert.equal(await plainLogin(stack.target, 'newbie', 'newbie password 1234'), true);
    // Self-registered: Prosody's own role for that (register_ibr_default_role).
    assert.equal(await roleOf(stack.prosody, 'newbie@localhost'), 'prosody:registered');
    assert.match(stack.prosody.log(), /info\tCreating newbie@localhost with an unusable password until its own is set/);
  });

  it('review (second round): a registration whose password the policy refuses leaves no account behind, so the name can be registered again', async () => {
    const register = async (id: string, password: string) => {
      const raw = await rawSasl(stack.target);
      try {
        const [reply] = await raw.exchange(
          `<iq type='set' id='${id}'><query xmlns='jabber:iq:register'><username>shorty</username><password>${password}</password></query></iq>`,
          new RegExp(`<iq\\b[^>]*\\bid=['"]${id}['"][^>]*>`),
        );
        return reply;
      } finally {
        raw.close();
      }
    };
    assert.match(await register('reg-short', 'short'), /type=['"]error['"]/);
    assert.equal((await stack.server.app.accounts.list()).includes('shorty@localhost'), false, 'the placeholder account was removed again');
    assert.match(await register('reg-again', 'a long enough password'), /type=['"]result['"]/);
    assert.equal(await plainLogin(stack.target, 'shorty', 'a long enough password'), true);
  });

  it('review #6: an account made by xmpp-oauth is prosody:member, as `prosodyctl adduser` makes them', async () => {
    assert.equal(await roleOf(stack.prosody, 'alice@localhost'), 'prosody:member');
  });

  it('review #6: `prosodyctl adduser` creates the account (prosody:member); `passwd` and `deluser` work through the running server', async () => {
    const add = await prosodyctl(stack.prosody, ['adduser', 'carol@localhost'], 'carol password 1234\ncarol password 1234\n');
    assert.equal(add.status, 0, add.stdout + add.stderr);
    assert.match(add.stdout, /Created carol@localhost with role 'prosody:member'/);
    assert.equal((await stack.server.app.accounts.verify('carol@localhost', 'carol password 1234')).ok, true);
    assert.equal(await roleOf(stack.prosody, 'carol@localhost'), 'prosody:member');

    const passwd = await prosodyctl(stack.prosody, ['passwd', 'carol@localhost'], 'carol new password 5678\ncarol new password 5678\n');
    assert.equal(passwd.status, 0, passwd.stdout + passwd.stderr);
    assert.match(passwd.stdout, /User password changed/);
    assert.equal((await stack.server.app.accounts.verify('carol@localhost', 'carol new password 5678')).ok, true);
    assert.equal(await plainLogin(stack.target, 'carol', 'carol password 1234'), false);

    const del = await prosodyctl(stack.prosody, ['deluser', 'carol@localhost']);
    assert.equal(del.status, 0, del.stdout + del.stderr);
    assert.match(del.stdout, /User deleted/);
    assert.ok(!(await stack.server.app.accounts.list()).includes('carol@localhost'));
  });

  it('issue 24 #6: `prosodyctl shell user disable` disables the account in xmpp-oauth (login refused, live session closed); `shell user enable` lets it log in again', async () => {
    await stack.server.app.accounts.create('carol@localhost', 'carol password 1234');
    const live = await chatSession(stack.target, 'carol', 'carol password 1234');
    try {
      const disable = await prosodyctl(stack.prosody, ['shell', 'user', 'disable', 'carol@localhost']);
      assert.equal(disable.status, 0, disable.stdout + disable.stderr);
      assert.match(disable.stdout, /User disabled/);
      assert.equal((await stack.server.app.store.getAccount('carol@localhost'))?.disabled, true, 'disabled in xmpp-oauth, as `xmpp-oauth user disable` does');
      await closedWithin(live, 5000);
      assert.equal(await plainLogin(stack.target, 'carol', 'carol password 1234'), false, 'a disabled account cannot log in');
    } finally {
      await live.stop();
    }

    const enable = await prosodyctl(stack.prosody, ['shell', 'user', 'enable', 'carol@localhost']);
    assert.equal(enable.status, 0, enable.stdout + enable.stderr);
    assert.match(enable.stdout, /User enabled/);
    assert.notEqual((await stack.server.app.store.getAccount('carol@localhost'))?.disabled, true);
    assert.equal(await plainLogin(stack.target, 'carol', 'carol password 1234'), true, 'enabled again, the account logs in');

    // The other direction: an account disabled by `xmpp-oauth user disable` is enabled again by Prosody's shell.
    assert.equal((await disableAccount(stack.server.app.core, 'carol@localhost', 'test')).ok, true);
    assert.equal(await plainLogin(stack.target, 'carol', 'carol password 1234'), false);
    const again = await prosodyctl(stack.prosody, ['shell', 'user', 'enable', 'carol@localhost']);
    assert.equal(again.status, 0, again.stdout + again.stderr);
    assert.equal(await plainLogin(stack.target, 'carol', 'carol password 1234'), true);
  });
});

describe('review #6 on Prosody 13: an invitation (mod_invites) creates the account in xmpp-oauth', { timeout: 120_000 }, () => {
  let stack: ProsodyStack;

  before(async () => {
    stack = await startProsodyStack({
      version: '13',
      moduleOptions: { allow_registration: true, min_seconds_between_registrations: 0 },
      // registration_invite_only is on by default with mod_invites_register.
      prosody: { modules: ['admin_shell', 'register', 'invites', 'invites_register'] },
    });
  });

  after(async () => {
    await stack?.stop();
  });

  it('review #6: an invitation made with `prosodyctl shell invite create_account` registers, and the account logs in', async () => {
    const invite = await prosodyctl(stack.prosody, ['shell', 'invite', 'create_account', 'localhost']);
    assert.equal(invite.status, 0, invite.stdout + invite.stderr);
    const token = /preauth=([\w-]+)/.exec(invite.stdout)?.[1];
    assert.ok(token, invite.stdout);
    const raw = await rawSasl(stack.target);
    try {
      const [refused] = await raw.exchange(
        `<iq type='set' id='reg0'><query xmlns='jabber:iq:register'><username>guest</username><password>guest password 1234</password></query></iq>`,
        /<iq\b[^>]*\bid=['"]reg0['"][\s\S]*?<\/iq>/,
      );
      assert.match(refused, /type=['"]error['"]/, 'invitation only');
      const [pars] = await raw.exchange(`<iq type='set' id='pars1'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`, /<iq\b[^>]*\bid=['"]pars1['"][^>]*>/);
      assert.match(pars, /type=['"]result['"]/, pars);
      const [reply] = await raw.exchange(
        `<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>invitee</username><password>invitee password 1234</password></query></iq>`,
        /<iq\b[^>]*\bid=['"]reg1['"][^>]*>/,
      );
      assert.match(reply, /type=['"]result['"]/, reply);
    } finally {
      raw.close();
    }
    assert.ok((await stack.server.app.accounts.list()).includes('invitee@localhost'));
    assert.ok(!(await stack.server.app.accounts.list()).includes('guest@localhost'));
    assert.equal(await plainLogin(stack.target, 'invitee', 'invitee password 1234'), true);
  });
});

describe('prosodyctl on Prosody 0.12 with mod_auth_xmpp_oauth', { timeout: 120_000 }, () => {
  let stack: ProsodyStack;

  before(async () => {
    stack = await startProsodyStack({ version: '0.12', accounts: { 'alice@localhost': ALICE_PASSWORD } });
  });

  after(async () => {
    await stack?.stop();
  });

  it('passwd and deluser stop at once (exit 1, the documented line) and change nothing', async () => {
    for (const command of ['passwd', 'deluser']) {
      const run = await prosodyctl(stack.prosody, [command, 'alice@localhost'], 'x password 5678\nx password 5678\n');
      assert.equal(run.status, 1, command);
      assert.match(run.stderr, /xmpp-oauth can only be asked from inside the running server\. Manage accounts of localhost with `xmpp-oauth user add\|passwd\|remove` instead\./, command);
    }
    assert.equal((await stack.server.app.accounts.verify('alice@localhost', ALICE_PASSWORD)).ok, true);
  });
});

for (const version of PROSODY_VERSIONS) {
  describe(`review #6: OAUTHBEARER failure conditions on Prosody ${version}`, { timeout: 180_000 }, () => {
    let stack: ProsodyStack;

    before(async () => {
      stack = await startProsodyStack({
        version,
        accounts: { 'alice@localhost': ALICE_PASSWORD, 'bob@localhost': 'bob password 1234' },
        moduleOptions: { xmpp_oauth_timeout: 3 },
      });
    });

    after(async () => {
      await stack?.stop();
    });

    it(`review #6: a foreign authzid gives invalid-authzid on Prosody ${version}, not the invalid_token challenge`, async () => {
      const { access_token } = await tokensFor(stack.server.url, 'bob@localhost', 'bob password 1234', LOGIN_SCOPE);
      const sasl = await rawSasl(stack.target);
      try {
        for (const authzid of ['alice@localhost', 'bob@elsewhere.example']) {
          const reply = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token, { authzid }));
          assert.equal(reply.name, 'failure', `${authzid}: ${reply.raw}`);
          assert.equal(reply.condition, 'invalid-authzid', authzid);
        }
        const ok = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token, { authzid: 'bob@localhost' }));
        assert.equal(ok.name, 'success', ok.raw);
      } finally {
        sasl.close();
      }
    });

    // Stops the link: keep it last.
    it(`review #6: with xmpp-oauth's link down, OAUTHBEARER gives temporary-auth-failure on Prosody ${version}, so a client keeps its token`, async () => {
      const { access_token } = await tokensFor(stack.server.url, 'alice@localhost', ALICE_PASSWORD, LOGIN_SCOPE);
      await stack.server.app.link!.stop();
      const sasl = await rawSasl(stack.target);
      try {
        const reply = await sasl.auth('OAUTHBEARER', oauthbearerMessage(access_token));
        assert.equal(reply.name, 'failure', reply.raw);
        assert.equal(reply.condition, 'temporary-auth-failure');
      } finally {
        sasl.close();
      }
    });
  });
}
