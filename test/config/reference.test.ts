import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { configReference } from '../../src/config/reference.js';

describe('README configuration reference', () => {
  it('is exactly the table generated from the schema', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme);
    assert.ok(m, 'README has the config-reference markers');
    assert.equal(m[1], configReference(), 'regenerate with: npm run docs:config');
  });
});

describe('issue 15 #9: every field of a static client and of a resource server is documented', () => {
  const table = configReference();
  const row = (key: string) => table.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
  it('lists clients[] fields with their defaults', () => {
    const expected: Record<string, string> = {
      id: '', name: '', secret_hash: '', public: '`false`', redirect_uris: '`[]`',
      grant_types: '`["authorization_code","refresh_token"]`', scope: '`"openid profile offline_access xmpp xmpp:client:normal"`',
      client_uri: '', logo_uri: '', tos_uri: '', policy_uri: '', application_type: '`"web"`',
    };
    for (const [field, def] of Object.entries(expected)) {
      const r = row(`clients[].${field}`);
      assert.ok(r, `clients[].${field} has a row`);
      const cells = r.split(' | ');
      assert.equal(cells[2], def, `default of clients[].${field}`);
      assert.ok(cells[3]!.replace(/ \|$/, '').trim().length > 10, `clients[].${field} has a doc line`);
    }
    assert.match(row('clients[].grant_types')!, /urn:ietf:params:oauth:grant-type:device_code/);
  });
  it('lists resource_servers[] fields', () => {
    for (const field of ['id', 'secret_hash']) assert.ok(row(`resource_servers[].${field}`), `resource_servers[].${field} has a row`);
  });
});
