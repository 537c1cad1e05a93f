// A raw SASL2 (XEP-0388) client with FAST (XEP-0484), written as bytes on a
// plain TCP stream (or after STARTTLS, as ejabberd 24.12 wants), for tests that must see exactly what a modern client
// (Conversations, Monal, Dino) sends: the stream header carries `from` (FAST
// is only offered then), <authenticate/> carries a <user-agent/>, and may ask
// for a FAST token or log in with one (HT-SHA-256-NONE).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { LoginTarget } from './xmpp-client.js';

export interface UserAgent {
  /** Stable per client install: FAST tokens are kept per user-agent id. */
  id: string;
  software?: string;
  device?: string;
}

export interface Sasl2Outcome {
  name: 'success' | 'failure' | 'challenge';
  /** First child of <failure/> (a SASL condition). */
  condition?: string;
  text?: string;
  /** The FAST token the server minted, if any. */
  token?: string;
  authzid?: string;
  /** <additional-data/> or challenge text, decoded. */
  data: string;
  raw: string;
}

export interface Sasl2Stream {
  /** SASL2 mechanisms offered (<authentication xmlns='urn:xmpp:sasl:2'>). */
  mechanisms: string[];
  /** FAST mechanisms offered inline (empty when FAST is not offered). */
  fast: string[];
  /** The stream features the client chose from (after STARTTLS, when asked), as received. */
  features: string;
  authenticate(mechanism: string, initial: string | Buffer | undefined, opts: {
    agent: UserAgent;
    requestToken?: string;
    useFast?: boolean;
  }): Promise<Sasl2Outcome>;
  respond(data: string | Buffer): Promise<Sasl2Outcome>;
  /** After success: binds a resource the XMPP-core way and returns the full JID. */
  bind(resource: string): Promise<string>;
  /** Sends raw XML and waits for the first match of `re` in what follows. */
  exchange(xmlText: string, re: RegExp): Promise<RegExpExecArray>;
  /** An IQ ping to the server; resolves when answered. */
  ping(): Promise<void>;
  /** Resolves once the server ends the stream (stream error text, condition) or the socket closes. */
  ended: Promise<{ condition?: string; text?: string }>;
  close(): void;
}

const b64 = (d: string | Buffer) => {
  const s = Buffer.from(d).toString('base64');
  return s === '' ? '=' : s;
};
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');
const unesc = (s: string) => s.replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

export interface Sasl2StreamOptions {
  /** Negotiate STARTTLS first, trusting this CA (PEM file contents); the server must offer it. */
  starttls?: { ca: string | Buffer };
}

/** Opens a stream to `target` as `user` (the header's `from`) and reads its features. */
export async function sasl2Stream({ port, domain }: LoginTarget, user: string, opts: Sasl2StreamOptions = {}): Promise<Sasl2Stream> {
  let sock: Socket = connect({ port, host: '127.0.0.1' });
  let buf = '';
  let all = '';
  const waiters: Array<() => void> = [];
  let endedResolve!: (v: { condition?: string; text?: string }) => void;
  const ended = new Promise<{ condition?: string; text?: string }>((r) => (endedResolve = r));
  const finish = () => {
    const m = /<stream:error>([\s\S]*?)<\/stream:error>/.exec(all);
    const inner = m?.[1] ?? '';
    const condition = /<([a-z-]+)\b[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]/.exec(inner)?.[1];
    const text = /<text\b[^>]*>([^<]*)<\/text>/.exec(inner)?.[1];
    endedResolve({ condition, text: text === undefined ? undefined : unesc(text) });
  };
  const onData = (chunk: Buffer) => {
    const s = chunk.toString('utf8');
    buf += s;
    all += s;
    if (/<\/stream:stream>/.test(s) || /<stream:error>[\s\S]*?<\/stream:error>/.test(all)) finish();
    for (const w of waiters.splice(0)) w();
  };
  const onClose = () => {
    finish();
    for (const w of waiters.splice(0)) w();
  };
  const listen = (s: Socket) => {
    s.on('data', onData);
    s.on('close', onClose);
    s.on('error', () => {});
  };
  listen(sock);
  const read = (re: RegExp, what: string): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within 15 s: ${buf.slice(-500)}`)), 15_000);
      const check = () => {
        const m = re.exec(buf);
        if (m) {
          clearTimeout(timer);
          buf = buf.slice(m.index + m[0].length);
          resolve(m);
        } else if (sock.destroyed || /<stream:error>[\s\S]*?<\/stream:error>/.test(buf)) {
          clearTimeout(timer);
          reject(new Error(`the stream ended while waiting for ${what}: ${buf.slice(-500)}`));
        } else waiters.push(check);
      };
      check();
    });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  const open = async () => {
    sock.write(
      `<?xml version='1.0'?><stream:stream from='${esc(user)}@${domain}' to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
    );
    return (await read(/<stream:features>([\s\S]*?)<\/stream:features>/, 'stream features'))[1]!;
  };
  let features = await open();
  if (opts.starttls) {
    if (!/<starttls\b[^>]*urn:ietf:params:xml:ns:xmpp-tls/.test(features)) throw new Error(`no STARTTLS offered: ${features}`);
    sock.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await read(/<proceed\b[^>]*\/>|<proceed\b[^>]*><\/proceed>/, 'STARTTLS proceed');
    const raw = sock;
    raw.off('data', onData);
    raw.off('close', onClose);
    const secure = tlsConnect({ socket: raw, ca: opts.starttls.ca, servername: domain });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    sock = secure;
    listen(sock);
    buf = '';
    features = await open();
  }
  const sasl2 = /<authentication\b[^>]*urn:xmpp:sasl:2[^>]*>([\s\S]*?)<\/authentication>/.exec(features)?.[1] ?? '';
  const fastBlock = /<fast\b[^>]*urn:xmpp:fast:0[^>]*>([\s\S]*?)<\/fast>/.exec(sasl2)?.[1] ?? '';
  const names = (s: string) => [...s.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]!);
  const fast = names(fastBlock);
  const mechanisms = names(sasl2.replace(/<inline>[\s\S]*?<\/inline>/, ''));

  const outcome = async (): Promise<Sasl2Outcome> => {
    const m = await read(/<(success|failure|challenge)\b[^>]*?(?:\/>|>([\s\S]*?)<\/\1>)/, 'SASL2 reply');
    const [raw, name, inner = ''] = m;
    if (name === 'failure') {
      const text = /<text\b[^>]*>([^<]*)<\/text>/.exec(inner)?.[1];
      return { name, condition: /<([a-z-]+)[\s/>]/.exec(inner)?.[1], text: text && unesc(text), data: '', raw };
    }
    if (name === 'challenge') return { name, data: Buffer.from(inner.trim(), 'base64').toString('utf8'), raw };
    const token = /<token\b[^>]*\btoken=['"]([^'"]+)['"]/.exec(inner)?.[1];
    const authzid = /<authorization-identifier>([^<]*)</.exec(inner)?.[1];
    const extra = /<additional-data>([^<]*)</.exec(inner)?.[1];
    return {
      name: 'success',
      token: token && unesc(token),
      authzid,
      data: extra ? Buffer.from(extra, 'base64').toString('utf8') : '',
      raw,
    };
  };

  let iqs = 0;
  return {
    mechanisms,
    fast,
    features,
    async authenticate(mechanism, initial, opts) {
      const agent = opts.agent;
      sock.write(
        `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='${esc(mechanism)}'>` +
          (initial === undefined ? '' : `<initial-response>${b64(initial)}</initial-response>`) +
          `<user-agent id='${esc(agent.id)}'>` +
          (agent.software ? `<software>${esc(agent.software)}</software>` : '') +
          (agent.device ? `<device>${esc(agent.device)}</device>` : '') +
          `</user-agent>` +
          (opts.requestToken ? `<request-token xmlns='urn:xmpp:fast:0' mechanism='${esc(opts.requestToken)}'/>` : '') +
          (opts.useFast ? `<fast xmlns='urn:xmpp:fast:0'/>` : '') +
          `</authenticate>`,
      );
      const o = await outcome();
      // A success is followed by the post-authentication features (no stream restart in SASL2).
      if (o.name === 'success') await read(/<stream:features\b[\s\S]*?(?:<\/stream:features>|<stream:features\/>)/, 'features after SASL2 success');
      return o;
    },
    async respond(data) {
      sock.write(`<response xmlns='urn:xmpp:sasl:2'>${b64(data)}</response>`);
      const o = await outcome();
      if (o.name === 'success') await read(/<stream:features\b[\s\S]*?(?:<\/stream:features>|<stream:features\/>)/, 'features after SASL2 success');
      return o;
    },
    async bind(resource) {
      const id = `bind${++iqs}`;
      sock.write(`<iq type='set' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${esc(resource)}</resource></bind></iq>`);
      const m = await read(new RegExp(`<iq\\b[^>]*\\bid=['"]${id}['"][^>]*>([\\s\\S]*?)</iq>`), 'bind result');
      const jid = /<jid>([^<]+)<\/jid>/.exec(m[1]!)?.[1];
      if (!jid) throw new Error(`bind failed: ${m[0]}`);
      return jid;
    },
    exchange(xmlText, re) {
      sock.write(xmlText);
      return read(re, `a reply matching ${re}`);
    },
    async ping() {
      const id = `ping${++iqs}`;
      sock.write(`<iq type='get' id='${id}' to='${domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await read(new RegExp(`<iq\\b[^>]*\\bid=['"]${id}['"][^>]*?(?:/>|>[\\s\\S]*?</iq>)`), 'ping result');
    },
    ended,
    close() {
      try {
        sock.end('</stream:stream>');
      } catch {
        /* already gone */
      }
      sock.destroy();
    },
  };
}

/** HT-SHA-256-NONE's initial response (XEP-0484): user NUL HMAC-SHA-256(token, "Initiator"). */
export function fastResponse(user: string, token: string): Buffer {
  return Buffer.concat([Buffer.from(`${user}\0`), createHmac('sha256', token).update('Initiator').digest()]);
}

/** A SCRAM-SHA-1/-256 client (RFC 5802, no channel binding): first message, then the answer to the challenge. */
export function scramClient(hash: 'sha1' | 'sha256', user: string, password: string) {
  const nonce = randomBytes(18).toString('base64');
  const bare = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${nonce}`;
  let serverSignature = '';
  return {
    first: `n,,${bare}`,
    final(challenge: string): string {
      const attrs = Object.fromEntries(challenge.split(',').map((p) => [p[0], p.slice(2)]));
      if (!attrs.r?.startsWith(nonce)) throw new Error(`bad server nonce in ${challenge}`);
      const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), hash === 'sha1' ? 20 : 32, hash);
      const clientKey = createHmac(hash, salted).update('Client Key').digest();
      const storedKey = createHash(hash).update(clientKey).digest();
      const withoutProof = `c=biws,r=${attrs.r}`;
      const authMessage = `${bare},${challenge},${withoutProof}`;
      const signature = createHmac(hash, storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      serverSignature = createHmac(hash, createHmac(hash, salted).update('Server Key').digest()).update(authMessage).digest('base64');
      return `${withoutProof},p=${proof.toString('base64')}`;
    },
    /** True when the server's final message proves it knew the password. */
    verified(additional: string): boolean {
      return additional === `v=${serverSignature}`;
    },
  };
}
