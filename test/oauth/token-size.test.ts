// An access token must fit in an XMPP PLAIN password (issue 5): the largest one
// we can issue, for the longest user name we accept, stays under 900 bytes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { MAX_NEW_USER_BYTES } from '../../src/accounts/accounts.js';
import { validate } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { createCore } from '../../src/oauth/core.js';
import { largestAccessTokenBytes, XMPP_PASSWORD_BUDGET } from '../../src/oauth/tokens/token-size.js';
import { MemoryStore } from '../../src/store/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';

async function coreFor(raw: Record<string, unknown>, log = silentLogger) {
  const config = validate({ log: { level: 'silent' }, ...raw });
  return createCore(config, new MemoryStore(), log);
}

describe('access token size', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: the largest token for a typical deployment fits an XMPP password`, async () => {
      const { deps } = await coreFor({
        issuer: 'https://auth.chat.example-organisation.org',
        signing_algorithm: alg,
        xmpp: { hosts: ['chat.example-organisation.org', 'example.org'] },
      });
      const bytes = await largestAccessTokenBytes(deps.signer, deps.config);
      assert.ok(bytes < XMPP_PASSWORD_BUDGET, `${bytes} bytes`);
      // The worst case really is worst: a long user name costs more than a short one.
      const short = await deps.signer.accessToken({ jid: 'al@example.org', clientId: 'c', scope: ['xmpp'], grantId: 'g'.repeat(22) });
      assert.ok(Buffer.byteLength(short.token) < bytes);
    });
  }

  it('warns at start-up when the issuer and hosts make the largest token too big', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    await coreFor({ issuer: `https://${'a'.repeat(200)}.example.org`, xmpp: { hosts: ['example.org'] } }, log);
    const warning = lines.find((l) => String(l.msg).includes('exceed what an XMPP password can carry'));
    assert.ok(warning, 'a warning names the problem');
    assert.equal(warning.level, 40);
    assert.ok((warning.bytes as number) > XMPP_PASSWORD_BUDGET);

    lines.length = 0;
    await coreFor({ issuer: 'https://auth.example.org', xmpp: { hosts: ['example.org'] } }, log);
    assert.equal(lines.filter((l) => String(l.msg).includes('XMPP password')).length, 0, 'no warning when it fits');
  });

  describe('through the token endpoint', () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({}, { redis: false });
    });
    after(async () => server?.stop());

    it('issues a token for the longest user name accepted, within the computed bound', async () => {
      const user = `${'l'.repeat(MAX_NEW_USER_BYTES)}@example.org`;
      await server.app.accounts.create(user, 'a long user password');
      const { access_token } = await tokensFor(server.url, user, 'a long user password', 'openid profile offline_access xmpp');
      const bound = await largestAccessTokenBytes(server.app.core.signer, server.app.config);
      assert.ok(Buffer.byteLength(access_token) <= bound, `${Buffer.byteLength(access_token)} > ${bound}`);
      assert.ok(Buffer.byteLength(access_token) < XMPP_PASSWORD_BUDGET);
    });

    it('refuses a longer user name, saying why', async () => {
      await assert.rejects(
        server.app.accounts.create(`${'l'.repeat(MAX_NEW_USER_BYTES + 1)}@example.org`, 'a long user password'),
        /limited to 64 bytes/,
      );
    });
  });
});
