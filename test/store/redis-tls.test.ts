// TLS to Redis (issue 12 #21): redis-server's own TLS port, with a CA, server
// and client certificates made by the openssl CLI; a single node, a Sentinel
// set and a Cluster, every process TLS-only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { validate } from '../../src/config/load.js';
import { createStore, storeOptionsFrom } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { startCluster, startSentinelSet, startTlsRedis, type RedisTlsFiles } from '../helpers/redis-topology.js';
import { startServer } from '../helpers/server.js';
import { makeCerts, type TestCerts } from '../helpers/tls-certs.js';

/** A store built the way serve builds it: from the config's `redis` section. */
function storeFrom(redis: Record<string, unknown>): Store {
  const config = validate({ redis, xmpp: { enabled: false } });
  return createStore({ ...storeOptionsFrom(config.redis), onError: () => undefined });
}

async function roundTrip(store: Store): Promise<void> {
  const jid = `tls-${Math.random().toString(36).slice(2)}@localhost`;
  assert.equal(await store.createAccount({ jid, passwordHash: 'h', createdAt: 1 }), true);
  assert.equal((await store.getAccount(jid))?.jid, jid);
}

async function refused(store: Store): Promise<void> {
  await assert.rejects(store.ping());
}

describe('issue 12 #21: TLS to Redis', () => {
  let certs: TestCerts;
  let files: RedisTlsFiles;
  const stores: Store[] = [];
  const track = (s: Store) => (stores.push(s), s);

  before(() => {
    certs = makeCerts();
    files = { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey };
  });
  after(async () => {
    for (const s of stores) await s.close().catch(() => undefined);
    certs.cleanup();
  });

  it('issue 12 #21: a single TLS node through rediss:// and redis.tls.ca_file; the wrong CA or none is refused; a client certificate when required', async () => {
    const node = await startTlsRedis({ ...files, requireClientCert: true, clientCert: certs.clientCert, clientKey: certs.clientKey });
    try {
      const url = `rediss://127.0.0.1:${node.port}`;
      await roundTrip(track(storeFrom({ url, tls: { ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey } })));
      await refused(track(storeFrom({ url, tls: { ca_file: certs.otherCa, cert_file: certs.clientCert, key_file: certs.clientKey } })));
      await refused(track(storeFrom({ url, tls: { cert_file: certs.clientCert, key_file: certs.clientKey } })));
      await refused(track(storeFrom({ url, tls: { ca_file: certs.ca } })));
      // servername: checked against the certificate (it names localhost and 127.0.0.1 only).
      await roundTrip(track(storeFrom({ url, tls: { ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey, servername: 'localhost' } })));
      await refused(track(storeFrom({ url, tls: { ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey, servername: 'redis.example' } })));
    } finally {
      await node.stop();
    }
  });

  it('issue 12 #21: the server runs on a TLS node (readyz, a user), and a missing ca_file stops the start with one line', async () => {
    const node = await startTlsRedis(files);
    try {
      const server = await startServer({ redis: { url: `rediss://127.0.0.1:${node.port}`, tls: { ca_file: certs.ca } } }, { redis: false });
      try {
        const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { status: string; store: { kind: string } };
        assert.deepEqual([ready.status, ready.store.kind], ['ready', 'redis']);
        await server.app.accounts.create('alice@localhost', 'alice password 1234');
        assert.equal(await server.app.accounts.exists('alice@localhost'), true);
        assert.equal((await server.app.accounts.verify('alice@localhost', 'alice password 1234')).ok, true);
      } finally {
        await server.stop();
      }
      assert.throws(() => storeFrom({ url: `rediss://127.0.0.1:${node.port}`, tls: { ca_file: `${certs.dir}/missing.crt` } }), /cannot read redis\.tls\.ca_file .*missing\.crt \(no such file\)/);
      assert.throws(() => validate({ redis: { url: `redis://127.0.0.1:${node.port}`, tls: { ca_file: certs.ca } } }), /redis\.tls needs a rediss:\/\/ URL/);
    } finally {
      await node.stop();
    }
  });

  it('issue 12 #21: Sentinel over TLS: the Sentinel and the primary it names', async () => {
    const set = await startSentinelSet('tlsmaster', { tls: files });
    try {
      await roundTrip(track(storeFrom({ sentinels: set.sentinels, name: set.name, tls: { ca_file: certs.ca } })));
      await refused(track(storeFrom({ sentinels: set.sentinels, name: set.name, tls: { ca_file: certs.otherCa } })));
    } finally {
      await set.stop();
    }
  });

  it('issue 12 #21: Cluster over TLS', async () => {
    const cluster = await startCluster(3, { tls: files });
    try {
      const store = track(storeFrom({ cluster: cluster.nodes, tls: { ca_file: certs.ca } }));
      // Several accounts: their keys spread over the slots of all three nodes.
      for (let i = 0; i < 5; i++) await roundTrip(store);
    } finally {
      await cluster.stop();
    }
  });
});
