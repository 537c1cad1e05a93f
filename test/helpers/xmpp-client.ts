// Logs in to a real XMPP server the way a chat client does: @xmpp/client for
// SASL PLAIN, and a raw stream for SASL X-OAUTH2 (no client library has it).
import { connect } from 'node:net';
import { client, xml } from '@xmpp/client';
import type xmlModule from '@xmpp/xml';

export interface LoginTarget {
  port: number;
  domain: string;
}

/** true when the server accepts user/secret via SASL PLAIN and binds a resource. */
export async function plainLogin({ port, domain }: LoginTarget, username: string, secret: string): Promise<boolean> {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain,
    // 0.13 never picks PLAIN over a plain-text stream by itself; hand it the credentials.
    credentials: (auth: (c: { username: string; password: string }) => Promise<void>) => auth({ username: utf8Octets(username), password: utf8Octets(secret) }),
  });
  xmpp.on('error', () => {});
  xmpp.reconnect.stop();
  try {
    await withTimeout(xmpp.start(), 15_000);
    return true;
  } catch (err) {
    if ((err as { name?: string }).name === 'SASLError') return false;
    throw err;
  } finally {
    await xmpp.stop().catch(() => {});
  }
}

export interface ChatSession {
  /** The full JID the server bound. */
  jid: string;
  /** IQ to `to`; resolves with the reply's payload, rejects with the stanza error. */
  iq(to: string, type: 'get' | 'set', payload: xmlModule.Element): Promise<xmlModule.Element>;
  send(stanza: xmlModule.Element): Promise<void>;
  /** Every stanza received since login, in order. */
  received: xmlModule.Element[];
  /** The first received stanza (past or future) that `match` accepts. */
  waitFor(match: (stanza: xmlModule.Element) => boolean, timeoutMs?: number): Promise<xmlModule.Element>;
  stop(): Promise<void>;
}

/** A logged-in chat client (SASL PLAIN), for sending stanzas as a user would. */
export async function chatSession({ port, domain }: LoginTarget, username: string, secret: string): Promise<ChatSession> {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain,
    resource: 'test',
    credentials: (auth: (c: { username: string; password: string }) => Promise<void>) => auth({ username: utf8Octets(username), password: utf8Octets(secret) }),
  });
  xmpp.on('error', () => {});
  xmpp.reconnect.stop();
  const received: xmlModule.Element[] = [];
  xmpp.on('stanza', (stanza: xmlModule.Element) => received.push(stanza));
  const bound = await withTimeout(xmpp.start(), 15_000);
  return {
    jid: String(bound),
    iq: async (to, type, payload) => {
      const reply = await xmpp.iqCaller.request(xml('iq', { to, type }, payload), 10_000);
      return reply.getChildElements()[0] ?? reply;
    },
    send: (stanza) => xmpp.send(stanza),
    received,
    waitFor: async (match, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching stanza within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      await xmpp.stop().catch(() => {});
    },
  };
}

export { xml };

/** SASL X-OAUTH2 (user + token in one PLAIN-like initial response) on a raw stream. */
export function xoauth2Login({ port, domain }: LoginTarget, username: string, token: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let buf = '';
    let sent = false;
    const timer = setTimeout(() => finish(new Error(`no SASL outcome within 15 s: ${buf.slice(-500)}`)), 15_000);
    const finish = (outcome: boolean | Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    sock.on('error', (e) => finish(e));
    sock.on('connect', () => {
      sock.write(`<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    });
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      if (!sent && buf.includes('</stream:features>')) {
        if (!buf.includes('>X-OAUTH2<')) return finish(new Error(`server does not offer X-OAUTH2: ${buf}`));
        sent = true;
        const initial = Buffer.from(`\0${username}\0${token}`).toString('base64');
        sock.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-OAUTH2'>${initial}</auth>`);
      }
      if (sent && /<success[\s/>]/.test(buf)) finish(true);
      else if (sent && /<failure[\s>]/.test(buf)) finish(false);
    });
  });
}

/**
 * PLAIN carries UTF-8 (RFC 4616), but @xmpp/client base64-encodes each
 * character as one byte: hand it the UTF-8 bytes as a byte string.
 */
function utf8Octets(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
