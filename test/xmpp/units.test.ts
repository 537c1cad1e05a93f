// Pure parts of the XMPP front door: no server needed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/log.js';
import { Backoff } from '../../src/xmpp/backoff.js';
import { classifyFailure } from '../../src/xmpp/failure.js';
import { IqRouter, type IqContext } from '../../src/xmpp/iq.js';
import { errorElement, iqError, IqError, NS_STANZAS } from '../../src/xmpp/errors.js';
import { assertSingleXmlCopy, xml, isElement } from '../../src/xmpp/xml.js';
import { installDisco } from '../../src/xmpp/builtins/disco.js';

describe('Backoff', () => {
  it('grows exponentially with jitter, caps at maxMs, resets', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => low.next()), [50, 100, 200, 400, 500, 500]);
    const high = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 1);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => high.next()), [100, 200, 400, 800, 1000, 1000]);
    high.reset();
    assert.equal(high.next(), 100);
  });

  it('issue 12 #14: defaults to 0.5 s .. 3 s (a refused connection is retried within a few seconds), and rejects nonsense', () => {
    const b = new Backoff();
    assert.equal(b.initialMs, 500);
    assert.equal(b.maxMs, 3000);
    // The whole schedule of a long outage, with the largest jitter: never above 3 s.
    const worst = new Backoff({}, () => 1);
    assert.deepEqual(Array.from({ length: 8 }, () => worst.next()), [500, 1000, 2000, 3000, 3000, 3000, 3000, 3000]);
    const least = new Backoff({}, () => 0);
    assert.deepEqual(Array.from({ length: 5 }, () => least.next()), [250, 500, 1000, 1500, 1500], 'jitter: half to all of the ceiling');
    assert.throws(() => new Backoff({ initialMs: 0 }), RangeError);
    assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError);
  });
});

describe('classifyFailure', () => {
  const streamError = (condition: string, text = '') => Object.assign(new Error(condition), { name: 'StreamError', condition, text });

  it('treats a wrong secret, unknown host and failed handshake as fatal', () => {
    assert.equal(classifyFailure(streamError('not-authorized', 'Given token does not match')).kind, 'fatal');
    assert.equal(classifyFailure(streamError('host-unknown')).kind, 'fatal');
    const hs = classifyFailure(new Error('Unexpected server response'));
    assert.deepEqual([hs.kind, hs.reason], ['fatal', 'handshake-failed']);
  });

  it('treats conflict, refused connections and timeouts as transient', () => {
    assert.deepEqual(classifyFailure(streamError('conflict')).kind, 'transient');
    const refused = classifyFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    assert.deepEqual([refused.kind, refused.reason], ['transient', 'ECONNREFUSED']);
    const timeout = classifyFailure(Object.assign(new Error(), { name: 'TimeoutError' }));
    assert.deepEqual([timeout.kind, timeout.reason], ['transient', 'timeout']);
  });
});

describe('IqRouter', () => {
  const ctx = (element = xml('q', { xmlns: 'urn:t' }), type: 'get' | 'set' = 'get'): IqContext => ({
    from: 'a@b/c', to: 'auth.localhost', id: '1', type, element,
  });
  const condition = (el: unknown) => {
    assert.ok(isElement(el) && el.is('error'));
    return el.getChildElements()[0]!.name;
  };

  it('answers unknown payloads with service-unavailable', async () => {
    assert.equal(condition(await new IqRouter(silentLogger).dispatch(ctx())), 'service-unavailable');
  });

  it('maps results, refusals and throws to one reply', async () => {
    const r = new IqRouter(silentLogger);
    r.handleIq('get', 'urn:t', 'q', () => xml('answer', { xmlns: 'urn:t' }));
    r.handleIq('set', 'urn:t', 'q', () => undefined);
    r.handleIq('get', 'urn:t', 'refuse', () => iqError('forbidden', 'not yours'));
    r.handleIq('get', 'urn:t', 'throwIq', () => {
      throw new IqError('bad-request', 'missing jid');
    });
    r.handleIq('get', 'urn:t', 'boom', async () => {
      throw new Error('boom');
    });
    r.handleIq('get', 'urn:t', 'junk', () => ({ name: 'not-an-element' }) as never);

    const ok = await r.dispatch(ctx());
    assert.ok(isElement(ok) && ok.is('answer', 'urn:t'));
    assert.equal(await r.dispatch(ctx(undefined, 'set')), true);
    const refused = await r.dispatch(ctx(xml('refuse', { xmlns: 'urn:t' })));
    assert.equal(condition(refused), 'forbidden');
    assert.ok(isElement(refused));
    assert.equal(refused.attrs.type, 'auth');
    assert.equal(refused.getChildText('text', NS_STANZAS), 'not yours');
    assert.equal(condition(await r.dispatch(ctx(xml('throwIq', { xmlns: 'urn:t' })))), 'bad-request');
    assert.equal(condition(await r.dispatch(ctx(xml('boom', { xmlns: 'urn:t' })))), 'internal-server-error');
    assert.equal(condition(await r.dispatch(ctx(xml('junk', { xmlns: 'urn:t' })))), 'internal-server-error');
  });

  it('refuses duplicate registrations and lists features', () => {
    const r = new IqRouter(silentLogger);
    const off = r.handleIq('get', 'urn:t', 'q', () => undefined);
    assert.throws(() => r.handleIq('get', 'urn:t', 'q', () => undefined), /already registered/);
    r.addFeature('urn:extra');
    installDisco(r, { category: 'auth', type: 'generic' });
    assert.deepEqual(r.features(), [
      'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'urn:extra', 'urn:t',
    ]);
    off();
    assert.ok(!r.features().includes('urn:t'));
  });
});

describe('stanza building', () => {
  it('replaces characters XML 1.0 cannot carry, in text and attributes, so the server never drops the stream', () => {
    const el = xml('x', { name: 'Evil\uFFFF app\u0001' }, 'a\u0000b\uD800c', [xml('y', {}, 'ok \u{1F600}\t')]);
    const out = el.toString();
    assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(out), out);
    assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(out), 'no lone surrogate');
    assert.equal(el.attrs.name, 'Evil\uFFFD app\uFFFD');
    assert.equal(el.getText(), 'a\uFFFDb\uFFFDc');
    assert.equal(el.getChildText('y'), 'ok \u{1F600}\t', 'valid astral characters and tabs are kept');
  });

  it('uses the single @xmpp/xml copy that @xmpp/component uses', () => {
    assert.doesNotThrow(assertSingleXmlCopy);
  });

  it('builds RFC 6120 error children', () => {
    assert.equal(
      errorElement(iqError('item-not-found')).toString(),
      `<error type="cancel"><item-not-found xmlns="${NS_STANZAS}"/></error>`,
    );
  });
});
