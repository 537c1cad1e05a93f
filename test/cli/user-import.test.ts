// Issue 23: an existing Prosody 0.12 server's accounts (internal_hashed, made by
// prosodyctl) come over with their SCRAM records, from the data directory and
// from a XEP-0227 export by Prosody's own migrator; the same passwords then work
// here, and the first login adds argon2id and SCRAM-SHA-256 without dropping SCRAM-SHA-1.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { verifierMatches } from '../../src/accounts/scram.js';
import { silentLogger } from '../../src/log.js';
import { createStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { runCli } from '../helpers/cli.js';
import { pinnedLogin } from '../helpers/pinned-login.js';
import { exportXep0227, prosodyctlRegister } from '../helpers/prosody-accounts.js';
import { startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { startRedis } from '../helpers/redis.js';

const USERS: Record<string, string> = {
  alice: 'alice old password',
  bob: 'bob p\u00e4ssword \u00fcml\u00e4ut', // non-ASCII: SASLprep and UTF-8 must agree with Prosody's
  carol: 'c4rol-Passw0rd!',
};

describe('user import from an existing Prosody 0.12 (internal_hashed)', () => {
  let prosody: ProsodyInstance;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let store: Store;
  let xepFiles: string[];
  const env = () => ({ XMPP_OAUTH_REDIS__URL: redis.url, XMPP_OAUTH_XMPP__HOSTS: '["localhost"]' });
  const accounts = () => new Accounts(store, { per_account: 50, per_address: 50, window: 60 }, silentLogger);

  before(async () => {
    prosody = await startProsody({ components: [{ domain: 'unused.localhost', secret: 'unused' }], virtualHosts: [{ host: 'localhost', options: { authentication: 'internal_hashed' } }] });
    for (const [user, password] of Object.entries(USERS)) prosodyctlRegister(prosody, user, 'localhost', password);
    xepFiles = exportXep0227(join(prosody.dir, 'data'), ['localhost']);
    redis = await startRedis();
    store = createStore({ redisUrl: redis.url });
  });
  after(async () => {
    await store?.close();
    await redis?.stop();
    await prosody?.stop();
    for (const f of xepFiles ?? []) rmSync(join(f, '..'), { recursive: true, force: true });
  });

  it('the source is real: Prosody logs alice in with SCRAM-SHA-1 against the records it wrote', async () => {
    const target = { port: prosody.c2sPort, domain: 'localhost' };
    assert.deepEqual(await pinnedLogin(target, 'alice', USERS.alice!, 'SCRAM-SHA-1'), { ok: true, mechanism: 'SCRAM-SHA-1' });
    assert.equal((await pinnedLogin(target, 'alice', 'wrong password', 'SCRAM-SHA-1')).ok, false);
    assert.match(readFileSync(join(prosody.dir, 'data/localhost/accounts/alice.dat'), 'utf8'), /stored_key/);
  });

  it('--dry-run counts and writes nothing', async () => {
    const res = await runCli(['user', 'import', 'prosody', join(prosody.dir, 'data'), '--dry-run'], { env: env() });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /would create: 3\n/);
    assert.deepEqual(await store.listAccounts(), []);
  });

  it('imports the data directory with the SCRAM records as they are; a second run changes nothing', async () => {
    const res = await runCli(['user', 'import', 'prosody', join(prosody.dir, 'data'), '--host', 'localhost'], { env: env() });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^created: 3\n/);
    assert.deepEqual((await store.listAccounts()).sort(), ['alice@localhost', 'bob@localhost', 'carol@localhost']);
    const alice = (await store.getAccount('alice@localhost'))!;
    assert.equal(alice.passwordHash, '', 'no password is known yet');
    assert.equal(alice.scram?.['SHA-1']?.iterations, 10000);
    assert.equal(Buffer.from(alice.scram!['SHA-1']!.salt, 'base64').toString(), /\["salt"\] = "([^"]+)"/.exec(readFileSync(join(prosody.dir, 'data/localhost/accounts/alice.dat'), 'utf8'))![1], 'the salt is used as is');

    const again = await runCli(['user', 'import', 'prosody', join(prosody.dir, 'data')], { env: env() });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /created: 0\nunchanged \(imported before\): 3\n/);
    assert.deepEqual((await store.getAccount('alice@localhost'))!.scram, alice.scram);
  });

  it('the same passwords sign in here; the first login adds argon2id and SCRAM-SHA-256 and keeps SCRAM-SHA-1', async () => {
    for (const [user, password] of Object.entries(USERS)) {
      const before = (await store.getAccount(`${user}@localhost`))!;
      assert.equal((await accounts().verify(`${user}@localhost`, `${password}x`)).ok, false, `${user}: a wrong password fails`);
      assert.equal((await accounts().verify(`${user}@localhost`, password)).ok, true, `${user}: the old password works`);
      const after = (await store.getAccount(`${user}@localhost`))!;
      assert.match(after.passwordHash, /^\$argon2id\$/);
      assert.deepEqual(after.scram!['SHA-1'], before.scram!['SHA-1'], 'SCRAM-SHA-1 kept as imported');
      assert.equal(await verifierMatches('SHA-256', after.scram!['SHA-256']!, password), true);
    }
  });

  it('imports a XEP-0227 export by Prosody\u2019s migrator the same way, and reports a collision with other credentials', async () => {
    await store.removeAccount('carol@localhost');
    await accounts().setPassword('bob@localhost', 'bob changed it here');
    const res = await runCli(['user', 'import', 'xep0227', ...xepFiles], { env: env() });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^created: 1\nunchanged \(imported before\): 1\nkept as they are \(exist here with other credentials\): 1\nrefused: 0\n  kept: bob@localhost\n/);
    assert.equal((await accounts().verify('carol@localhost', USERS.carol!)).ok, true, 'carol came back from the XEP-0227 file');
    assert.equal((await accounts().verify('bob@localhost', 'bob changed it here')).ok, true, 'bob\u2019s newer password was not overwritten');
  });

  it('refuses what it cannot use with a clear line, and a missing directory with a failure exit', async () => {
    const missing = await runCli(['user', 'import', 'prosody', join(prosody.dir, 'no-such-dir')], { env: env() });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no-such-dir/);
    const notXep = await runCli(['user', 'import', 'xep0227', join(prosody.dir, 'prosody.cfg.lua')], { env: env() });
    assert.equal(notXep.code, 1);
    assert.match(notXep.stderr, /prosody\.cfg\.lua: (not well-formed XML|no XML element found|not a XEP-0227 file)/);
    const otherHost = await runCli(['user', 'import', 'prosody', join(prosody.dir, 'data'), '--host', 'example.net'], { env: env() });
    assert.equal(otherHost.code, 0, otherHost.stderr);
    assert.match(otherHost.stdout, /refused: 1\n  refused: .*no accounts directory for host example\.net/);
  });
});
