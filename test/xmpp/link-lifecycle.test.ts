// The component link's start and stop against a real Prosody 0.12:
// reconnecting quickly once the server comes up (issue 12 #14), and closing the
// stream properly on a clean stop (issue 12 #15).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { ComponentLink } from '../../src/xmpp/link.js';
import { freePort } from '../helpers/ports.js';
import { ourModuleHost, pluginDirWithModule } from '../helpers/prosody-module.js';
import { startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { plainLogin } from '../helpers/xmpp-client.js';
import { startProxy } from './proxy.js';

const COMPONENT = { domain: 'oauth.localhost', secret: 'component-secret' };
const PASSWORD = 'alice password 1234';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogEntry {
  level: number;
  msg: string;
  [k: string]: unknown;
}
function capture() {
  const entries: LogEntry[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void entries.push(JSON.parse(line) as LogEntry) });
  return { logger, entries };
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `${what} within ${ms} ms`);
    await sleep(20);
  }
}

describe('issue 12 #14: the component link starts before Prosody', () => {
  let prosody: ProsodyInstance | undefined;
  let server: TestServer | undefined;
  let pluginDir: string | undefined;
  after(async () => {
    await server?.stop();
    await prosody?.stop();
    if (pluginDir) rmSync(pluginDir, { recursive: true, force: true });
  });

  it('issue 12 #14: after 10 s of refused connections, the link is up within the 3 s cap (plus a margin) of Prosody starting, and logins work', async () => {
    const ports = { c2s: await freePort(), component: await freePort() };
    server = await startServer({
      xmpp: { enabled: true, service: `xmpp://127.0.0.1:${ports.component}`, domain: COMPONENT.domain, secret: COMPONENT.secret, hosts: ['localhost'] },
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
    const link = server.app.link!;
    // When each attempt starts: the gaps are the backoff actually used.
    const attempts: number[] = [Date.now()];
    link.onStatus(({ state }) => {
      if (state === 'connecting') attempts.push(Date.now());
    });
    await sleep(10_000);
    assert.equal(link.online, false);
    assert.equal(link.status.lastFailure?.reason, 'ECONNREFUSED');

    pluginDir = pluginDirWithModule();
    prosody = await startProsody({
      components: [COMPONENT],
      pluginDir,
      ports,
      virtualHosts: [ourModuleHost(COMPONENT, { xmpp_oauth_timeout: 2 })],
    });
    const up = Date.now();
    // The next attempt comes at most 3 s later; the margin covers a loaded machine.
    await link.waitOnline(3000 + 4000);
    const after = Date.now() - up;
    assert.equal(await plainLogin({ port: prosody.c2sPort, domain: 'localhost' }, 'alice', PASSWORD), true);
    assert.ok(after <= 7000, `online ${after} ms after Prosody listened`);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    assert.ok(gaps.length >= 4, `${gaps.length} attempts`);
    // 3 s cap; a refused connect takes milliseconds, the rest is a loaded machine's slack.
    assert.ok(Math.max(...gaps) <= 3000 + 1500, `gaps between attempts: ${gaps.join(', ')} ms`);
  });
});

describe('issue 12 #15: a clean stop closes the stream', () => {
  let prosody: ProsodyInstance;
  after(async () => {
    await prosody?.stop();
  });

  it('issue 12 #15: sends </stream:stream>, waits for Prosody\u2019s, and Prosody sends no stream error; bounded when the peer never answers', async () => {
    prosody = await startProsody({ components: [COMPONENT] });
    const log = capture();
    const link = new ComponentLink({ service: `xmpp://127.0.0.1:${prosody.componentPort}`, ...COMPONENT, logger: log.logger });
    link.start();
    await link.waitOnline(15_000);
    const mark = prosody.log().length;
    await link.stop();
    const stopped = log.entries.find((e) => String(e.msg).startsWith('component link stopped'));
    assert.ok(stopped, 'a stop line');
    assert.equal(stopped.peerClosed, true, 'Prosody\u2019s </stream:stream> arrived before the socket closed');
    assert.equal(stopped.level, 30);
    await until('Prosody to log the disconnect', () => /component disconnected: oauth\.localhost/.test(prosody.log().slice(mark)), 5000);
    const prosodySide = prosody.log().slice(mark);
    // Prosody 0.12 labels every component disconnect "(stream error)", clean ones
    // included (mod_component's session_close hard-codes it); a real stream
    // error shows as "Disconnecting component, <stream:error> is: ..." first,
    // and an unclean close lacks "Received </stream:stream>".
    assert.match(prosodySide, /Received <\/stream:stream>/);
    assert.doesNotMatch(prosodySide, /<stream:error>|not-well-formed|Connection closed by remote/);
    assert.ok(prosodySide.indexOf('Received </stream:stream>') < prosodySide.indexOf('component disconnected'));

    // A server that never answers the close: the stop still ends, without claiming a clean close.
    const px = await startProxy(prosody.componentPort);
    try {
      const log2 = capture();
      const link2 = new ComponentLink({ service: `xmpp://127.0.0.1:${px.port}`, ...COMPONENT, logger: log2.logger });
      link2.start();
      await link2.waitOnline(15_000);
      px.frozen = true;
      const t0 = Date.now();
      await link2.stop();
      const took = Date.now() - t0;
      assert.ok(took < 8000, `stop took ${took} ms`);
      assert.equal(log2.entries.find((e) => String(e.msg).startsWith('component link stopped'))?.peerClosed, false);
    } finally {
      await px.close();
    }
  });
});
