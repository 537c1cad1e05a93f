// Logs in to a real XMPP server the way a chat client does: @xmpp/client for
// SASL PLAIN, and a raw stream for SASL X-OAUTH2 (no client library has it).
import { connect } from 'node:net';
import { client, xml } from '@xmpp/client';
import type xmlModule from '@xmpp/xml';
import { waitFor } from './wait.js';

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
  /** IQ to `to` ('' = the account's own bare JID); resolves with the reply's payload, rejects with the stanza error. */
  iq(to: string, type: 'get' | 'set', payload: xmlModule.Element): Promise<xmlModule.Element>;
  send(stanza: xmlModule.Element): Promise<void>;
  /** Every stanza received since login, in order. */
  received: xmlModule.Element[];
  /** The first received stanza (past or future) that `match` accepts. */
  waitFor(match: (stanza: xmlModule.Element) => boolean, timeoutMs?: number): Promise<xmlModule.Element>;
  /** The full JID the server bound. */
  jid: string;
  /** Settles when the server ends the connection, with its stream error if it sent one. */
  ended: Promise<{ condition?: string; text?: string }>;
  stop(): Promise<void>;
}

/** A logged-in chat client (SASL PLAIN), for sending stanzas as a user would. */
export async function chatSession(
  { port, domain }: LoginTarget,
  username: string,
  secret: string,
  // Sessions of one account need resources of their own, or each login replaces the last.
  resource = 'test',
  /** OAUTHBEARER: log in with `secret` as a bearer token instead of SASL PLAIN. */
  opts: { mechanism?: 'OAUTHBEARER' } = {},
): Promise<ChatSession> {
  if (opts.mechanism) lastOauthbearer = undefined;
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain,
    resource,
    credentials: (auth: (c: { username: string; password: string }) => Promise<void>) => auth({ username: utf8Octets(username), password: utf8Octets(secret) }),
  });
  let streamError: { condition?: string; text?: string } | undefined;
  xmpp.on('error', (err: { name?: string; condition?: string; text?: string }) => {
    if (err?.name === 'StreamError') streamError = { condition: err.condition, text: err.text };
  });
  let markEnded!: (e: { condition?: string; text?: string }) => void;
  const ended = new Promise<{ condition?: string; text?: string }>((resolve) => (markEnded = resolve));
  xmpp.on('disconnect', () => markEnded(streamError ?? {}));
  xmpp.on('offline', () => markEnded(streamError ?? {}));
  xmpp.reconnect.stop();
  const received: xmlModule.Element[] = [];
  xmpp.on('stanza', (stanza: xmlModule.Element) => received.push(stanza));
  if (opts.mechanism === 'OAUTHBEARER') preferOauthbearer(xmpp);
  const bound = await withTimeout(xmpp.start(), 15_000);
  if (opts.mechanism === 'OAUTHBEARER' && !usedOauthbearer()) throw new Error('the session did not log in with OAUTHBEARER');
  return {
    jid: String(bound),
    iq: async (to, type, payload) => {
      // An empty `to` addresses the account itself (no attribute, as clients send it).
      const reply = await xmpp.iqCaller.request(xml('iq', to ? { to, type } : { type }, payload), 10_000);
      return reply.getChildElements()[0] ?? reply;
    },
    send: (stanza) => xmpp.send(stanza),
    received,
    ended,
    waitFor: (match, timeoutMs = 10_000) => waitFor('a matching stanza', () => received.find(match), { timeoutMs }),
    stop: async () => {
      await xmpp.stop().catch(() => {});
    },
  };
}

/**
 * SASL OAUTHBEARER (RFC 7628) as a mechanism for @xmpp/client's SASL factory
 * (the saslmechanisms interface): the token travels as the password.
 */
let lastOauthbearer: { failed: boolean; error?: unknown } | undefined;
function OAuthBearerMechanism(this: { failed: boolean; error?: unknown }) {
  this.failed = false;
  lastOauthbearer = this;
}
/** The mechanism instance of the latest login (set by the SASL factory, outside TypeScript's sight). */
const usedOauthbearer = (): { failed: boolean; error?: unknown } | undefined => lastOauthbearer;
OAuthBearerMechanism.prototype.name = 'OAUTHBEARER';
OAuthBearerMechanism.prototype.clientFirst = true;
OAuthBearerMechanism.prototype.response = function (this: { failed: boolean }, cred: { password: string; host: string; authzid?: string }) {
  // After the error challenge the client answers %x01 (RFC 7628 section 3.2.3).
  if (this.failed) return '\x01';
  return oauthbearerMessage(cred.password, { authzid: cred.authzid, pairs: [['host', cred.host], ['auth', `Bearer ${cred.password}`]] });
};
OAuthBearerMechanism.prototype.challenge = function (this: { failed: boolean; error?: unknown }, challenge: string) {
  this.failed = true;
  this.error = JSON.parse(challenge);
  return this;
};

// 0.13's sasl.use() hands back its SASL factory; mechanisms are tried in
// factory order, so put OAUTHBEARER ahead of PLAIN (0.14 calls this saslFactory).
function preferOauthbearer(xmpp: ReturnType<typeof client>): void {
  const factory = (xmpp as unknown as { sasl: { use(m: unknown): { _mechs: unknown[] } } }).sasl.use(OAuthBearerMechanism);
  factory._mechs.unshift(factory._mechs.pop());
}

/**
 * Logs in with @xmpp/client 0.13 using OAUTHBEARER; resolves with the bound
 * JID, or with the SASL condition on failure.
 */
export async function libraryOauthbearerLogin(
  { port, domain }: LoginTarget,
  token: string,
): Promise<{ mechanism?: string; jid?: string; condition?: string; challenge?: unknown }> {
  lastOauthbearer = undefined;
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain,
    credentials: (auth: (c: { username: string; password: string }) => Promise<void>) => auth({ username: '', password: token }),
  });
  preferOauthbearer(xmpp);
  xmpp.on('error', () => {});
  xmpp.reconnect.stop();
  try {
    const jid = await withTimeout(xmpp.start(), 15_000);
    return { mechanism: usedOauthbearer() && 'OAUTHBEARER', jid: String(jid) };
  } catch (err) {
    if ((err as { name?: string }).name === 'SASLError') {
      return { mechanism: usedOauthbearer() && 'OAUTHBEARER', condition: (err as { condition?: string }).condition, challenge: usedOauthbearer()?.error };
    }
    throw err;
  } finally {
    await xmpp.stop().catch(() => {});
  }
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

export interface SaslReply {
  /** `success`, `failure` or `challenge`. */
  name: string;
  /** For a failure: the RFC 6120 condition, e.g. `not-authorized`. */
  condition?: string;
  /** The decoded payload of a challenge or success (empty when none). */
  data: string;
  raw: string;
}

/** A raw c2s stream for byte-level SASL: send exactly what a test wants, read each reply. */
export interface RawSasl {
  mechanisms: string[];
  /** `<auth/>` with the given initial response (undefined: none at all; '' : the empty response "="). */
  auth(mechanism: string, initial?: string | Buffer): Promise<SaslReply>;
  respond(data: string | Buffer): Promise<SaslReply>;
  /** After success: restarts the stream, binds a resource, returns the bound full JID. */
  bind(): Promise<string>;
  /** Writes raw XML, resolves with the first match of `until` in what comes back. */
  exchange(data: string, until: RegExp): Promise<RegExpExecArray>;
  close(): void;
}

export async function rawSasl({ port, domain }: LoginTarget): Promise<RawSasl> {
  const sock = connect({ port, host: '127.0.0.1' });
  let buf = '';
  const waiters: Array<() => void> = [];
  sock.on('data', (chunk) => {
    buf += chunk.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  sock.on('error', () => {});
  const open = () =>
    sock.write(`<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
  /** Waits until `re` matches the unread buffer; consumes up to the end of the match. */
  const read = (re: RegExp, what: string): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within 15 s: ${buf.slice(-500)}`)), 15_000);
      const check = () => {
        const m = re.exec(buf);
        if (m) {
          clearTimeout(timer);
          buf = buf.slice(m.index + m[0].length);
          resolve(m);
        } else if (/<stream:error>[\s\S]*?<\/stream:error>/.test(buf)) {
          clearTimeout(timer);
          reject(new Error(`the server ended the stream while waiting for ${what}: ${buf.slice(-500)}`));
        } else waiters.push(check);
      };
      check();
    });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  open();
  const features = (await read(/<stream:features>([\s\S]*?)<\/stream:features>/, 'stream features'))[1]!;
  const mechanisms = [...features.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]!);
  const reply = async (): Promise<SaslReply> => {
    const m = await read(/<(success|failure|challenge)\b[^>]*?(?:\/>|>([\s\S]*?)<\/\1>)/, 'SASL reply');
    const [raw, name, inner = ''] = m;
    if (name === 'failure') return { name, condition: /<([a-z-]+)[\s/>]/.exec(inner)?.[1], data: '', raw };
    const text = inner.trim();
    return { name: name!, data: text === '=' ? '' : Buffer.from(text, 'base64').toString('utf8'), raw };
  };
  const b64 = (d: string | Buffer) => {
    const s = Buffer.from(d).toString('base64');
    return s === '' ? '=' : s;
  };
  return {
    mechanisms,
    async auth(mechanism, initial) {
      const body = initial === undefined ? '' : b64(initial);
      sock.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mechanism}'>${body}</auth>`);
      return reply();
    },
    async respond(data) {
      sock.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${b64(data)}</response>`);
      return reply();
    },
    async bind() {
      open();
      await read(/<\/stream:features>/, 'stream features after SASL');
      sock.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>`);
      return (await read(/<jid>([^<]+)<\/jid>/, 'bound JID'))[1]!;
    },
    exchange(data, until) {
      sock.write(data);
      return read(until, `an answer matching ${until}`);
    },
    close() {
      sock.destroy();
    },
  };
}

/** An RFC 7628 client response: GS2 header, then the pairs (in the order given), each ended by %x01. */
export function oauthbearerMessage(token: string, opts: { authzid?: string; pairs?: Array<[string, string]>; cbFlag?: string } = {}): string {
  const gs2 = `${opts.cbFlag ?? 'n'},${opts.authzid ? `a=${opts.authzid.replace(/=/g, '=3D').replace(/,/g, '=2C')}` : ''},`;
  const pairs = opts.pairs ?? [['auth', `Bearer ${token}`]];
  return `${gs2}\x01${pairs.map(([k, v]) => `${k}=${v}\x01`).join('')}\x01`;
}
