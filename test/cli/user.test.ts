import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { silentLogger } from '../../src/log.js';
import { createAppPassword, findAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { createStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { runCli } from '../helpers/cli.js';
import { startRedis } from '../helpers/redis.js';

describe('xmpp-oauth user … against Redis', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let store: Store;
  let env: Record<string, string>;

  before(async () => {
    redis = await startRedis();
    store = createStore({ redisUrl: redis.url });
    env = { XMPP_OAUTH_REDIS__URL: redis.url };
  });
  after(async () => {
    await store.close();
    await redis.stop();
  });

  it('adds a user from --password-stdin; the right password verifies, a wrong one does not', async () => {
    const res = await runCli(['user', 'add', 'Alice@LocalHost', '--password-stdin'], { input: 'secret password 1\n', env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /created alice@localhost/);
    const accounts = new Accounts(store, { per_account: 5, per_address: 30, window: 60 }, silentLogger);
    assert.deepEqual(await accounts.verify('alice@localhost', 'secret password 1'), { ok: true, jid: 'alice@localhost', epoch: (await store.getAccount('alice@localhost'))!.epoch });
    assert.deepEqual(await accounts.verify('alice@localhost', 'secret password 2'), { ok: false, reason: 'invalid' });
    const hash = (await store.getAccount('alice@localhost'))!.passwordHash;
    assert.match(hash, /^\$argon2id\$/, 'stored as an argon2id hash');
    assert.equal(hash.includes('secret password 1'), false);
  });

  it('refuses a duplicate with exit 1, and a bad JID or short password with exit 2', async () => {
    const dup = await runCli(['user', 'add', 'alice@localhost', '--password-stdin'], { input: 'another password', env });
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /exists already/);
    const badJid = await runCli(['user', 'add', 'not a jid', '--password-stdin'], { input: 'long enough pw', env });
    assert.equal(badJid.code, 2);
    const short = await runCli(['user', 'add', 'bob@localhost', '--password-stdin'], { input: 'short', env });
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 8 characters/);
  });

  it('changes a password, lists and removes users', async () => {
    assert.equal((await runCli(['user', 'add', 'bob@localhost', '--password-stdin'], { input: 'bob password 1', env })).code, 0);
    const passwd = await runCli(['user', 'passwd', 'bob@localhost', '--password-stdin'], { input: 'bob password 2', env });
    assert.equal(passwd.code, 0, passwd.stderr);
    const accounts = new Accounts(store, { per_account: 5, per_address: 30, window: 60 }, silentLogger);
    assert.equal((await accounts.verify('bob@localhost', 'bob password 2')).ok, true);
    assert.equal((await accounts.verify('bob@localhost', 'bob password 1')).ok, false);
    const list = await runCli(['user', 'list'], { env });
    assert.equal(list.stdout, 'alice@localhost\nbob@localhost\n');
    assert.equal((await runCli(['user', 'remove', 'bob@localhost'], { env })).code, 0);
    assert.equal((await runCli(['user', 'remove', 'bob@localhost'], { env })).code, 1);
    assert.equal((await runCli(['user', 'list'], { env })).stdout, 'alice@localhost\n');
  });

  it('refuses to change accounts in the memory store', async () => {
    const res = await runCli(['user', 'add', 'carol@localhost', '--password-stdin'], { input: 'carol password' });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no redis\.url is configured/);
  });

  it('asks for a password on a terminal only, and says so without one', async () => {
    const res = await runCli(['user', 'add', 'carol@localhost'], { env });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /use --password-stdin/);
  });

  it('issue 18: user disable revokes every grant and app password and stops logins; enable lets the password work again', async () => {
    assert.equal((await runCli(['user', 'add', 'carol@localhost', '--password-stdin'], { input: 'carol password 1', env })).code, 0);
    const { password } = await createAppPassword({ store, log: silentLogger }, 'carol@localhost', { label: 'Dino' });
    const now = Date.now();
    await store.saveGrant({ id: 'g-carol-app', jid: 'carol@localhost', clientId: 'webapp', scope: ['openid'], createdAt: now, lastUsedAt: now });
    const accounts = new Accounts(store, { per_account: 5, per_address: 30, window: 60 }, silentLogger);

    const disabled = await runCli(['user', 'disable', 'Carol@localhost'], { env });
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.match(disabled.stdout, /disabled Carol@localhost; revoked 2 grant\(s\)/);
    assert.deepEqual(await store.listGrants('carol@localhost'), []);
    assert.equal(await findAppPassword({ store }, 'carol@localhost', password), null);
    assert.equal((await accounts.verify('carol@localhost', 'carol password 1')).ok, false, 'the password no longer works');
    assert.equal((await store.getAccount('carol@localhost'))?.disabled, true);

    const enabled = await runCli(['user', 'enable', 'carol@localhost'], { env });
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.equal((await accounts.verify('carol@localhost', 'carol password 1')).ok, true);
    assert.deepEqual(await store.listGrants('carol@localhost'), [], 'revoked grants stay revoked');

    const missing = await runCli(['user', 'disable', 'nobody@localhost'], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no account nobody@localhost/);
    assert.equal((await runCli(['user', 'disable', 'not a jid'], { env })).code, 2);
  });
});
