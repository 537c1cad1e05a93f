// Issue 16: a registered client's id is verified once and then cached by its
// exact text; a wrong secret, a forged id and an expired id never pass, and a
// static client's secret is read from the config on every check.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ClientRegistry, StaticClients } from '../../src/oauth/clients/clients.js';
import { DynamicClients } from '../../src/oauth/clients/registration/dynamic-clients.js';
import { validateClientMetadata } from '../../src/oauth/clients/registration/metadata.js';
import { validate } from '../../src/config/load.js';

const dc = (ttl?: number) => new DynamicClients({ registrationKey: 'registration-key-for-tests-0123456789abcdef', algorithm: 'HS256', issuer: 'https://auth.example', ttl });
const META = validateClientMetadata(
  { client_name: 'Chat', client_uri: 'https://app.example/', redirect_uris: ['https://app.example/cb'] },
  { allowedGrantTypes: ['authorization_code', 'refresh_token'], allowedResponseTypes: ['code'] },
);
const tamper = (jwt: string) => {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  return `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
};

describe('issue 16: verified client cache', () => {
  it('issue 16: a registered client is verified once; a wrong secret or a forged id never passes', async () => {
    const clients = dc();
    const reg = await clients.register(META);
    const registry = new ClientRegistry([clients]);
    const first = await registry.authenticate({ basic: { id: reg.client_id, secret: reg.client_secret! } });
    const again = await clients.find(reg.client_id);
    assert.equal(again, first, 'the second find is the cached client');
    await assert.rejects(registry.authenticate({ basic: { id: reg.client_id, secret: `${reg.client_secret!.slice(0, -1)}${reg.client_secret!.endsWith('0') ? '1' : '0'}` } }), /client authentication failed/);
    await assert.rejects(registry.authenticate({ basic: { id: reg.client_id, secret: '' } }));
    assert.equal(await clients.find(tamper(reg.client_id)), null, 'a forged twin of a cached id takes the full check');
  });

  it('issue 16: a cached registered client leaves the cache when its id expires', async () => {
    const clients = dc(1);
    const reg = await clients.register(META);
    assert.ok(await clients.find(reg.client_id));
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal(await clients.find(reg.client_id), null);
  });

  it('issue 16: a static client secret is checked against the loaded config every time (new config, new secret at once)', async () => {
    const hash = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
    const cfg = (secret: string) =>
      validate({ issuer: 'https://auth.example', clients: [{ id: 'web', name: 'Web', secret_hash: hash(secret), redirect_uris: ['https://app.example/cb'] }] }).clients;
    const before = new ClientRegistry([new StaticClients(cfg('old-secret-0123456789abcdef'))]);
    assert.ok(await before.authenticate({ basic: { id: 'web', secret: 'old-secret-0123456789abcdef' } }));
    const after = new ClientRegistry([new StaticClients(cfg('new-secret-0123456789abcdef'))]);
    await assert.rejects(after.authenticate({ basic: { id: 'web', secret: 'old-secret-0123456789abcdef' } }), /client authentication failed/);
    assert.ok(await after.authenticate({ basic: { id: 'web', secret: 'new-secret-0123456789abcdef' } }));
  });
});
