import assert from 'node:assert/strict';
import { mkdtemp, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { silentLogger } from '../../src/log.js';
import { KeyManager, rotateKeys } from '../../src/oauth/tokens/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import { runCli } from '../helpers/cli.js';
import { startRedis } from '../helpers/redis.js';
import { startServer } from '../helpers/server.js';

describe('signing keys', () => {
  it('generates one ES256 key on first start; kid is the JWK thumbprint; JWKS has no private parts', async () => {
    const store = new MemoryStore();
    const keys = new KeyManager(store, { algorithm: 'ES256', maxTokenTtl: 60 }, silentLogger);
    await keys.init();
    const { keys: published } = keys.jwks();
    assert.equal(published.length, 1);
    const jwk = published[0]! as JWK & { kid: string };
    assert.equal(jwk.kid, await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JWK));
    assert.equal((jwk as { d?: string }).d, undefined);
    keys.stop();
    // A second instance on the same store adopts the same key.
    const other = new KeyManager(store, { algorithm: 'ES256', maxTokenTtl: 60 }, silentLogger);
    await other.init();
    assert.equal(other.current().kid, keys.current().kid);
    other.stop();
    await store.close();
  });

  it('an instance verifies a token signed with a key another instance activated moments ago', async () => {
    const store = new MemoryStore();
    const opts = { algorithm: 'ES256' as const, maxTokenTtl: 60 };
    const a = new KeyManager(store, opts, silentLogger);
    const b = new KeyManager(store, opts, silentLogger);
    await a.init();
    await b.init();
    await rotateKeys(store, 'ES256', 0, 60); // --delay 0: signs at once
    await a.reload();
    const fresh = a.current().kid;
    assert.equal(b.publicKey(fresh), undefined, 'B has not re-read the store yet');
    assert.ok(await b.verificationKey(fresh), 'an unknown kid makes B look again');
    assert.equal(await b.verificationKey('no-such-kid'), undefined, 'a made-up kid finds nothing');
    a.stop();
    b.stop();
    await store.close();
  });

  it('publishes a rotated key before it signs, and keeps the old one published afterwards', async () => {
    const store = new MemoryStore();
    const keys = new KeyManager(store, { algorithm: 'ES256', maxTokenTtl: 60 }, silentLogger);
    await keys.init();
    const oldKid = keys.current().kid;
    const next = await rotateKeys(store, 'EdDSA', 1, 60);
    await keys.reload();
    const kids = keys.jwks().keys.map((k) => k.kid);
    assert.deepEqual(new Set(kids), new Set([oldKid, next.kid]), 'both published');
    assert.equal(keys.current().kid, oldKid, 'the new key does not sign yet');
    await sleep(1100);
    assert.equal(keys.current().kid, next.kid, 'the new key signs once active');
    assert.equal(keys.current().alg, 'EdDSA');
    assert.ok(keys.jwks().keys.some((k) => k.kid === oldKid), 'the retired key stays published for its tokens');
    const retired = (await store.listSigningKeys()).find((k) => k.kid === oldKid)!;
    assert.ok(retired.expiresAt! >= retired.retiredAt! + 60_000, 'published at least one token lifetime after retiring');
    keys.stop();
    await store.close();
  });
});

describe('xmpp-oauth keys …', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  it('generate --out writes a private PEM (0600) that signing_key_file uses', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'xo-keys-')), 'signing.pem');
    const res = await runCli(['keys', 'generate', '--out', file]);
    assert.equal(res.code, 0, res.stderr);
    const kid = /key (\S+) to/.exec(res.stdout)![1];
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match(await readFile(file, 'utf8'), /BEGIN PRIVATE KEY/);
    const server = await startServer({ signing_key_file: file }, { redis: redis.url });
    try {
      const jwks = (await (await fetch(`${server.url}/oauth2/jwks`)).json()) as { keys: { kid: string }[] };
      assert.ok(jwks.keys.some((k) => k.kid === kid));
    } finally {
      await server.stop();
    }
    assert.equal((await runCli(['keys', 'generate', '--out', file])).code, 1, 'never overwrites a key file');
  });

  it('rotate publishes a new key that a running server announces after its reload', async () => {
    const env = { XMPP_OAUTH_REDIS__URL: redis.url };
    const server = await startServer({}, { redis: redis.url });
    try {
      const before = (await (await fetch(`${server.url}/oauth2/jwks`)).json()) as { keys: { kid: string }[] };
      assert.equal((await runCli(['keys', 'generate'], { env })).code, 1, 'refuses when keys exist');
      const res = await runCli(['keys', 'rotate', '--delay', '600'], { env });
      assert.equal(res.code, 0, res.stderr);
      const newKid = /new key (\S+) published/.exec(res.stdout)![1];
      await server.app.keys.reload();
      const afterRotation = (await (await fetch(`${server.url}/oauth2/jwks`)).json()) as { keys: { kid: string }[] };
      assert.equal(afterRotation.keys.length, before.keys.length + 1);
      assert.ok(afterRotation.keys.some((k) => k.kid === newKid));
      assert.equal(server.app.keys.current().kid, before.keys[0]!.kid, 'still signing with the old key during the delay');
      const list = await runCli(['keys', 'list'], { env });
      assert.match(list.stdout, new RegExp(`${newKid}\\tES256\\tsigns-from=`));
    } finally {
      await server.stop();
    }
  });
});
