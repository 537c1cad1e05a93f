// ComponentLink against a real Prosody 0.12. A second component ("probe")
// plays the remote party: components can address each other through the server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startProsody, freePort, type ProsodyInstance } from '../helpers/prosody.js';
import { startProxy, type TestProxy } from './proxy.js';
import { waitFor } from '../helpers/wait.js';
import {
  ComponentLink,
  IqError,
  iqError,
  LinkOfflineError,
  NS_STANZAS,
  xml,
  type ComponentLinkOptions,
  type Element,
  type LinkState,
} from '../../src/xmpp/index.js';

const AUTH = { domain: 'auth.localhost', secret: 'auth-secret' };
const PROBE = { domain: 'probe.localhost', secret: 'probe-secret' };
const OTHER = { domain: 'other.localhost', secret: 'other-secret' };

interface LogEntry {
  level: number;
  msg: string;
  reason?: string;
  [k: string]: unknown;
}

function capture() {
  const entries: LogEntry[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void entries.push(JSON.parse(line) as LogEntry) });
  return { logger, entries, at: (level: 'error' | 'warn') => entries.filter((e) => e.level === (level === 'error' ? 50 : 40)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function iq(to: string, payload: Element, type: 'get' | 'set' = 'get'): Element {
  return xml('iq', { type, to }, payload);
}

/** The error condition of a rejected request(), or fails the test. */
async function errorOf(p: Promise<unknown>): Promise<{ condition: string; text: string; type?: string }> {
  const err = await p.then(
    () => assert.fail('expected an error reply'),
    (e: unknown) => e as { name: string; condition: string; text: string; type?: string },
  );
  assert.equal(err.name, 'StanzaError');
  return err;
}

describe('ComponentLink against Prosody', () => {
  let prosody: ProsodyInstance;
  let service: string;
  const links: ComponentLink[] = [];
  const proxies: TestProxy[] = [];

  function makeLink(over: Partial<ComponentLinkOptions> & { logger?: ComponentLinkOptions['logger'] } = {}): ComponentLink {
    const link = new ComponentLink({
      service,
      ...AUTH,
      logger: capture().logger,
      software: { name: 'xmpp-oauth-test', version: '1.2.3' },
      backoff: { initialMs: 100, maxMs: 1000 },
      ...over,
    });
    links.push(link);
    return link;
  }

  async function proxy(): Promise<TestProxy> {
    const p = await startProxy(prosody.componentPort);
    proxies.push(p);
    return p;
  }

  before(async () => {
    prosody = await startProsody({ components: [AUTH, PROBE, OTHER] });
    service = `xmpp://127.0.0.1:${prosody.componentPort}`;
  });

  after(async () => {
    await Promise.all(links.map((l) => l.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await prosody?.stop();
  });

  describe('online link', () => {
    let auth: ComponentLink;
    let probe: ComponentLink;
    const log = capture();
    const states: LinkState[] = [];
    let releaseSlow: () => void = () => undefined;

    before(async () => {
      auth = makeLink({ logger: log.logger });
      auth.onStatus((s) => states.push(s.state));
      auth.handleIq('get', 'urn:test', 'boom', async () => {
        throw new Error('database exploded');
      });
      auth.handleIq('get', 'urn:test', 'refuse', async () => iqError('forbidden', 'not for you'));
      auth.handleIq('set', 'urn:test', 'strict', async ({ element }) => {
        if (!element.attrs.jid) throw new IqError('bad-request', 'jid missing');
      });
      auth.handleIq('get', 'urn:test', 'whoami', async ({ from, to, id }) =>
        xml('whoami', { xmlns: 'urn:test', from, to, id }),
      );
      auth.handleIq('get', 'urn:test', 'slow', () => new Promise<void>((resolve) => (releaseSlow = resolve)));
      assert.equal(auth.online, false);
      auth.start(); // returns at once: connecting happens in the background
      assert.equal(auth.state, 'connecting');
      probe = makeLink({ ...PROBE });
      probe.start();
      await Promise.all([auth.waitOnline(10_000), probe.waitOnline(10_000)]);
    });

    // Frees the AUTH and PROBE slots: Prosody accepts one connection per component.
    after(() => Promise.all([auth.stop(), probe.stop()]));

    it('attaches as a component and reports readiness', () => {
      assert.equal(auth.online, true);
      assert.deepEqual(auth.status, { state: 'online', online: true, standby: false, lastFailure: undefined });
      assert.deepEqual(states, ['connecting', 'online']);
      assert.deepEqual(log.at('error'), []);
    });

    it('answers disco#info with an identity and every registered namespace', async () => {
      const reply = await probe.request(iq(AUTH.domain, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
      const query = reply.getChild('query', 'http://jabber.org/protocol/disco#info')!;
      assert.deepEqual(query.getChild('identity')!.attrs, { category: 'auth', type: 'generic', name: 'xmpp-oauth-test' });
      const features = query.getChildren('feature').map((f) => f.attrs.var);
      for (const ns of [
        'http://jabber.org/protocol/disco#info',
        'http://jabber.org/protocol/disco#items',
        'jabber:iq:version',
        'urn:xmpp:ping',
        'urn:test',
      ]) {
        assert.ok(features.includes(ns), `missing feature ${ns}`);
      }
    });

    it('answers disco#items with an empty list', async () => {
      const reply = await probe.request(iq(AUTH.domain, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })));
      assert.equal(reply.attrs.type, 'result');
      assert.deepEqual(reply.getChild('query', 'http://jabber.org/protocol/disco#items')!.children, []);
    });

    it('answers software version (XEP-0092) without an OS', async () => {
      const reply = await probe.request(iq(AUTH.domain, xml('query', { xmlns: 'jabber:iq:version' })));
      const query = reply.getChild('query', 'jabber:iq:version')!;
      assert.equal(query.getChildText('name'), 'xmpp-oauth-test');
      assert.equal(query.getChildText('version'), '1.2.3');
      assert.equal(query.getChild('os'), undefined);
    });

    it('answers ping (XEP-0199) with an empty result', async () => {
      const reply = await probe.request(iq(AUTH.domain, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      assert.equal(reply.attrs.type, 'result');
      assert.equal(reply.attrs.from, AUTH.domain);
      assert.deepEqual(reply.children, []);
    });

    it('gives handlers the addressing of the request', async () => {
      // request() puts its own random id on the stanza (review #11): the handler sees that one.
      const req = xml('iq', { type: 'get', to: AUTH.domain, id: 'abc123' }, xml('whoami', { xmlns: 'urn:test' }));
      const reply = await probe.request(req);
      assert.notEqual(req.attrs.id, 'abc123');
      assert.deepEqual(reply.getChild('whoami', 'urn:test')!.attrs, {
        xmlns: 'urn:test', from: PROBE.domain, to: AUTH.domain, id: req.attrs.id,
      });
    });

    it('answers unknown payloads with service-unavailable', async () => {
      const err = await errorOf(probe.request(iq(AUTH.domain, xml('nothing', { xmlns: 'urn:unknown' }))));
      assert.equal(err.condition, 'service-unavailable');
    });

    it('turns a throwing handler into internal-server-error, logs a warning and stays up', async () => {
      const warnings = log.at('warn').length;
      const err = await errorOf(probe.request(iq(AUTH.domain, xml('boom', { xmlns: 'urn:test' }))));
      assert.equal(err.condition, 'internal-server-error');
      assert.equal(err.text, '', 'internal details are not sent to the requester');
      assert.equal(log.at('warn').length, warnings + 1);
      assert.match(log.at('warn').at(-1)!.msg, /IQ handler failed/);
      assert.equal(auth.online, true);
      const pong = await probe.request(iq(AUTH.domain, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      assert.equal(pong.attrs.type, 'result');
      assert.deepEqual(log.at('error'), []);
    });

    it('sends refusals as stanza errors with type and text', async () => {
      const refused = await errorOf(probe.request(iq(AUTH.domain, xml('refuse', { xmlns: 'urn:test' }))));
      assert.deepEqual([refused.condition, refused.type, refused.text], ['forbidden', 'auth', 'not for you']);
      const bad = await errorOf(probe.request(iq(AUTH.domain, xml('strict', { xmlns: 'urn:test' }), 'set')));
      assert.deepEqual([bad.condition, bad.type, bad.text], ['bad-request', 'modify', 'jid missing']);
      const ok = await probe.request(iq(AUTH.domain, xml('strict', { xmlns: 'urn:test', jid: 'a@b' }), 'set'));
      assert.equal(ok.attrs.type, 'result');
    });

    it('runs handlers concurrently: a slow one does not hold up others', async () => {
      const slow = probe.request(iq(AUTH.domain, xml('slow', { xmlns: 'urn:test' })));
      await sleep(50);
      const fast = await probe.request(iq(AUTH.domain, xml('ping', { xmlns: 'urn:xmpp:ping' })), 2000);
      assert.equal(fast.attrs.type, 'result');
      releaseSlow();
      assert.equal((await slow).attrs.type, 'result');
    });

    it('puts the refusal text in the raw <error/> element', async () => {
      // Sanity check of the raw reply (not just @xmpp's parsed StanzaError).
      const err = (await probe.request(iq(AUTH.domain, xml('refuse', { xmlns: 'urn:test' }))).catch((e: unknown) => e)) as {
        element: Element;
      };
      assert.equal(err.element.getChildText('text', NS_STANZAS), 'not for you');
    });

    it('does not echo the text of a refused request (it may be a password or a token)', async () => {
      const err = (await probe
        .request(iq(AUTH.domain, xml('refuse', { xmlns: 'urn:test', user: 'alice' }, 'hunter2-secret')))
        .catch((e: unknown) => e)) as { element: Element; condition: string };
      assert.equal(err.condition, 'forbidden');
      const raw = err.element.root().toString();
      assert.ok(!raw.includes('hunter2-secret'), raw);
    });

    it('keeps the link alive with pings the server answers', async () => {
      const px = await proxy();
      const pingLog = capture();
      const pinger = makeLink({
        ...OTHER,
        service: `xmpp://127.0.0.1:${px.port}`,
        logger: pingLog.logger,
        keepalive: { intervalMs: 100, timeoutMs: 300 }, // target: parent domain "localhost"
      });
      pinger.start();
      await pinger.waitOnline(10_000);
      const idle = px.bytesFromClient;
      await sleep(1000);
      // Unanswered pings would have torn the link down after 300 ms.
      assert.ok(px.bytesFromClient > idle, 'pings were sent');
      assert.equal(pinger.online, true);
      assert.equal(px.connections, 1);
      assert.deepEqual(pingLog.at('warn'), []);
      await pinger.stop();
    });
  });

  describe('failures', () => {
    it('logs a wrong secret once at error and retries slowly, not in a tight loop', async () => {
      const px = await proxy();
      const log = capture();
      const link = makeLink({
        ...AUTH,
        domain: OTHER.domain,
        secret: 'Wr0ng-s3cret-zz',
        service: `xmpp://127.0.0.1:${px.port}`,
        logger: log.logger,
        backoff: { initialMs: 50, maxMs: 1000, fatalMs: 1000 },
      });
      link.start();
      await sleep(3000);
      await link.stop();
      // t=0 then every maxMs: 3 or 4 attempts; a tight loop would make hundreds.
      assert.ok(px.connections >= 2 && px.connections <= 5, `${px.connections} attempts in 3 s`);
      const errors = log.at('error');
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.reason, 'not-authorized');
      assert.ok(!JSON.stringify(log.entries).includes('Wr0ng-s3cret-zz'), 'the secret never reaches the log');
      assert.equal(link.status.lastFailure?.reason, 'not-authorized');
    });

    it('logs an unknown component domain once at error', async () => {
      const log = capture();
      const link = makeLink({ domain: 'nope.localhost', logger: log.logger, backoff: { initialMs: 50, maxMs: 500, fatalMs: 500 } });
      link.start();
      await sleep(1300);
      await link.stop();
      const errors = log.at('error');
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.reason, 'host-unknown');
      assert.ok(log.entries.filter((e) => e.msg === 'component still refused').length >= 1);
    });

    it('treats conflict (slot taken by another instance) as standing by: one info line, quick retries, takes over', async () => {
      const first = makeLink({ ...OTHER });
      first.start();
      await first.waitOnline(10_000);
      const log = capture();
      const second = makeLink({ ...OTHER, logger: log.logger, backoff: { initialMs: 100, maxMs: 400 } });
      second.start();
      await waitFor('the standby line', () => log.entries.some((e) => e.msg.includes('standing by')), { timeoutMs: 5000, intervalMs: 20 });
      await sleep(1500); // several more refusals, at most 400 ms apart
      assert.equal(log.entries.filter((e) => e.msg.includes('standing by')).length, 1, 'said once');
      assert.equal(log.entries.find((e) => e.msg.includes('standing by'))!.level, 30);
      assert.deepEqual(log.at('warn'), []);
      assert.deepEqual(log.at('error'), []);
      assert.equal(second.status.lastFailure?.reason, 'conflict');
      assert.equal(second.online, false);
      assert.equal(first.online, true);
      // When the slot frees up, the waiting instance takes over by itself.
      await first.stop();
      await second.waitOnline(5000);
      await second.stop();
    });

    it('warns once and backs off while nothing listens; the repeats go to debug', async () => {
      const log = capture();
      const link = makeLink({ service: `xmpp://127.0.0.1:${await freePort()}`, logger: log.logger, backoff: { initialMs: 50, maxMs: 400 } });
      link.start();
      await sleep(1500);
      assert.equal(link.state === 'retrying' || link.state === 'connecting', true);
      await link.stop();
      // One warn per outage: the short retries (issue 12 #14) would otherwise repeat it every few seconds.
      const warns = log.at('warn');
      assert.equal(warns.length, 1, JSON.stringify(warns));
      assert.equal(warns[0]!.reason, 'ECONNREFUSED');
      const repeats = log.entries.filter((e) => e.msg === 'component link still could not connect').length;
      assert.ok(repeats >= 2 && repeats <= 10, `${repeats + 1} attempts`);
      assert.deepEqual(log.at('error'), []);
    });

    it('never writes while offline: send() returns false, request() rejects', async () => {
      const px = await proxy();
      const link = makeLink({ ...OTHER, service: `xmpp://127.0.0.1:${px.port}` });
      const msg = () => xml('message', { to: PROBE.domain }, xml('body', {}, 'hi'));
      assert.equal(link.send(msg()), false);
      await assert.rejects(link.request(iq(PROBE.domain, xml('ping', { xmlns: 'urn:xmpp:ping' }))), LinkOfflineError);
      assert.equal(px.bytesFromClient, 0);
      link.start();
      await link.waitOnline(10_000);
      assert.equal(link.send(msg()), true);
      await link.stop();
      const written = px.bytesFromClient;
      assert.equal(link.send(msg()), false);
      await assert.rejects(link.request(iq(PROBE.domain, xml('ping', { xmlns: 'urn:xmpp:ping' }))), LinkOfflineError);
      await sleep(100);
      assert.equal(px.bytesFromClient, written);
      assert.throws(() => link.send({ name: 'message' } as unknown as Element), /src\/xmpp\/xml\.ts/);
    });

    it('stop() closes cleanly and stops retrying', async () => {
      const px = await proxy();
      const link = makeLink({ ...OTHER, service: `xmpp://127.0.0.1:${px.port}` });
      link.start();
      await link.waitOnline(10_000);
      const t0 = Date.now();
      await link.stop();
      assert.ok(Date.now() - t0 < 3000);
      assert.equal(link.state, 'stopped');
      const n = px.connections;
      await sleep(600);
      assert.equal(px.connections, n);
    });

    it('reconnects when keep-alive pings go unanswered (half-open connection)', async () => {
      const px = await proxy();
      const log = capture();
      const link = makeLink({
        ...OTHER,
        service: `xmpp://127.0.0.1:${px.port}`,
        logger: log.logger,
        keepalive: { intervalMs: 200, timeoutMs: 400 },
        connectTimeoutMs: 1000,
      });
      link.start();
      await link.waitOnline(10_000);
      px.frozen = true;
      await waitFor('link to notice the dead peer', () => !link.online, { timeoutMs: 3000, intervalMs: 20 });
      assert.ok(log.entries.some((e) => e.msg.includes('keep-alive ping unanswered')));
      px.frozen = false;
      await link.waitOnline(10_000);
      assert.ok(px.connections >= 2);
      assert.deepEqual(log.at('error'), []);
      await link.stop();
    });
  });

  describe('server restart', () => {
    it('comes back online by itself after Prosody restarts, and answers again', async () => {
      const log = capture();
      const auth = makeLink({ ...AUTH, logger: log.logger, backoff: { initialMs: 100, maxMs: 500 } });
      const probe = makeLink({ ...PROBE, backoff: { initialMs: 100, maxMs: 500 } });
      auth.start();
      probe.start();
      await Promise.all([auth.waitOnline(10_000), probe.waitOnline(10_000)]);

      const wentDown = new Promise<void>((resolve) => {
        const off = auth.onStatus((s) => {
          if (!s.online) {
            off();
            resolve();
          }
        });
      });
      const restarted = prosody.restart({ downtimeMs: 500 });
      await wentDown;
      assert.equal(auth.send(xml('message', { to: PROBE.domain })), false);
      await restarted;
      await Promise.all([auth.waitOnline(10_000), probe.waitOnline(10_000)]);

      const reply = await probe.request(iq(AUTH.domain, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      assert.equal(reply.attrs.type, 'result');
      assert.ok(log.entries.some((e) => e.msg === 'component link lost'));
      assert.deepEqual(log.at('error'), []);
    });
  });
});
