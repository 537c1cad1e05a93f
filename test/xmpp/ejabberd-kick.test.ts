// Issue 24 #7, the calling side of ending ejabberd sessions, without an
// ejabberd: a stand-in mod_http_api counts kick_user calls. A burst of
// revocations for one account (disabling it revokes each grant) must fold
// into few calls, and news for another host, no account, or a grant that
// could never log in to ejabberd must call nothing.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { validate } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { captureLog } from '../helpers/log-capture.js';
import { MemoryStore } from '../../src/store/index.js';
import { startEjabberdSessionEnder } from '../../src/xmpp/ejabberd-sessions.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('issue 24 #7: kick_user calls for revocation news', () => {
  let api: Server;
  let url: string;
  const calls: Array<{ user: string; host: string }> = [];

  before(async () => {
    api = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        assert.equal(req.url, '/api/kick_user');
        calls.push(JSON.parse(body) as { user: string; host: string });
        // A proxy's page instead of ejabberd's JSON, for the account 'html'.
        if (body.includes('"html"')) return void res.end('<html>Welcome</html>');
        // Slow enough that the burst below arrives while the first call runs.
        setTimeout(() => res.end(JSON.stringify('Kicked sessions: 1')), 150);
      });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(api.address() as AddressInfo).port}/api/`;
  });
  after(() => new Promise<void>((r) => api.close(() => r())));

  it('issue 24 #7: a burst of revocations for one account makes two kick_user calls, not one per grant; other hosts, unknown accounts and grants without a chat scope none', async () => {
    const store = new MemoryStore();
    const config = validate({ log: { level: 'silent' }, xmpp: { hosts: ['localhost'] } });
    const stop = startEjabberdSessionEnder({ store, config }, { url }, silentLogger);
    try {
      await store.publishRevocation({ grantId: 'g1', jid: 'kim@localhost', at: Date.now() });
      await sleep(20);
      for (const id of ['g2', 'g3', 'g4', 'g5']) await store.publishRevocation({ grantId: id, jid: 'kim@localhost', at: Date.now() });
      await store.publishRevocation({ grantId: 'g6', jid: 'kim@elsewhere.example', at: Date.now() });
      await store.publishRevocation({ grantId: 'g7', at: Date.now() });
      // A web app's sign-in grant and an account-only one: ejabberd refuses both at login.
      await store.publishRevocation({ grantId: 'g9', jid: 'lou@localhost', scope: ['openid', 'profile'], at: Date.now() });
      await store.publishRevocation({ grantId: 'g10', jid: 'lou@localhost', scope: ['openid', 'xmpp:account:write'], at: Date.now() });
      await sleep(600);
      assert.deepEqual(calls, [
        { user: 'kim', host: 'localhost' },
        { user: 'kim', host: 'localhost' },
      ]);
      // Once quiet, the next revocation calls again at once; a chat grant (scope known) does too.
      await store.publishRevocation({ grantId: 'g8', jid: 'kim@localhost', at: Date.now() });
      await store.publishRevocation({ grantId: 'g11', jid: 'lou@localhost', scope: ['openid', 'xmpp:client:normal'], at: Date.now() });
      await sleep(300);
      assert.deepEqual(calls.slice(2), [
        { user: 'kim', host: 'localhost' },
        { user: 'lou', host: 'localhost' },
      ]);
    } finally {
      stop();
    }
  });

  it('issue 26: a kick_user answer that is not JSON is logged as that, not as ejabberd being unreachable', async () => {
    const store = new MemoryStore();
    const config = validate({ log: { level: 'silent' }, xmpp: { hosts: ['localhost'] } });
    const captured = captureLog('info');
    const stop = startEjabberdSessionEnder({ store, config }, { url }, captured.log);
    try {
      await store.announcePasswordChanged('html@localhost');
      await sleep(300);
      const msgs = captured.lines().map((l) => String(l.msg));
      assert.ok(msgs.some((m) => /not JSON/.test(m)), msgs.join(' | '));
      assert.ok(!msgs.some((m) => /could not reach/.test(m)), msgs.join(' | '));
    } finally {
      stop();
    }
  });
});
