#!/usr/bin/env node
// A XEP-0493 (OAuth Client Login) client in one file, with Node's built-ins
// only: what a chat client does the first time it meets a server that offers
// SASL OAUTHBEARER. Walk-through: docs/xmpp-clients.md.
//
//   node examples/xep0493-client.mjs alice@example.org [--server 127.0.0.1:5222] [--insecure-tls] [--redirect-port 8765]
//
// --redirect-port (or XEP0493_REDIRECT_PORT) fixes the loopback port the
// browser is sent back to (default: any free port), for a firewall or a
// port forwarded from another machine.
//
// To check that a login works, without the OAuth steps:
//   node examples/xep0493-client.mjs alice@example.org --token "$ACCESS_TOKEN"       (SASL OAUTHBEARER)
//   printf '%s\n' "$PASSWORD" | node examples/xep0493-client.mjs alice@example.org --password-stdin   (SASL PLAIN)
//
// 1. OAUTHBEARER with an empty token: the server's error challenge names the
//    authorization server (RFC 7628 section 3.2.2, "openid-configuration").
// 2. Fetch the metadata, register dynamically (RFC 7591) as a public native app.
// 3. Authorization code + PKCE (S256) through the browser, redirect to a
//    loopback port (RFC 8252); the user signs in and approves there.
// 4. Log in with OAUTHBEARER and the access token; refresh; log in again.
//
// The functions are exported so a program (or the test suite) can drive each step.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { pathToFileURL } from 'node:url';

export const LOGIN_SCOPE = 'xmpp:client:normal';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

/** An XMPP c2s stream, just enough for STARTTLS, SASL and resource binding. */
async function openStream({ host, port, domain, insecureTls = false }) {
  let socket = netConnect({ host, port });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let buf = '';
  let wake = () => {};
  const attach = (s) => {
    s.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      wake();
    });
    s.on('error', () => {});
  };
  attach(socket);
  const read = (re, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} from the server within 15 s`)), 15_000);
      const check = () => {
        const m = re.exec(buf);
        if (!m) return void (wake = check);
        clearTimeout(timer);
        buf = buf.slice(m.index + m[0].length);
        resolve(m);
      };
      check();
    });
  const write = (s) => socket.write(s);
  const open = async () => {
    write(`<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    return (await read(/<stream:features[^>]*>([\s\S]*?)<\/stream:features>/, 'stream features'))[1];
  };
  let features = await open();
  if (/<starttls\b/.test(features)) {
    write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await read(/<proceed\b[^>]*\/?>/, 'STARTTLS proceed');
    socket.removeAllListeners('data');
    socket = tlsConnect({ socket, servername: domain, rejectUnauthorized: !insecureTls });
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    buf = '';
    attach(socket);
    features = await open();
  }
  const mechanisms = [...features.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]);
  /** One SASL element out, the server's answer back: { name, condition?, data }. */
  const sasl = async (element) => {
    write(element);
    const [, name, inner = ''] = await read(/<(success|failure|challenge)\b[^>]*?(?:\/>|>([\s\S]*?)<\/\1>)/, 'SASL answer');
    if (name === 'failure') return { name, condition: /<([a-z-]+)[\s/>]/.exec(inner)?.[1] };
    return { name, data: inner.trim() === '=' ? '' : Buffer.from(inner.trim(), 'base64').toString('utf8') };
  };
  return {
    mechanisms,
    sasl,
    async bind() {
      await open();
      write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
      return (await read(/<jid>([^<]+)<\/jid>/, 'bound JID'))[1];
    },
    close() {
      socket.end(`</stream:stream>`);
      socket.destroy();
    },
  };
}

/** RFC 7628 section 3.1 client response: gs2-header %x01 host=… %x01 port=… %x01 auth=Bearer … %x01 %x01 */
export function oauthbearerResponse(token, { authzid, host, port } = {}) {
  const gs2 = `n,${authzid ? `a=${authzid.replace(/=/g, '=3D').replace(/,/g, '=2C')}` : ''},`;
  const pairs = [host && `host=${host}`, port && `port=${port}`, `auth=Bearer ${token}`].filter(Boolean);
  return `${gs2}\x01${pairs.map((p) => `${p}\x01`).join('')}\x01`;
}

const b64 = (s) => Buffer.from(s).toString('base64') || '=';

/**
 * One OAUTHBEARER attempt. Returns { ok: true, jid } after resource binding,
 * or { ok: false, condition, error } where `error` is the server's RFC 7628
 * JSON (status, scope, openid-configuration) when it sent one.
 */
export async function oauthbearerLogin(server, token, { authzid } = {}) {
  const stream = await openStream(server);
  try {
    if (!stream.mechanisms.includes('OAUTHBEARER')) throw new Error(`the server offers no OAUTHBEARER (only ${stream.mechanisms.join(', ')})`);
    const message = oauthbearerResponse(token, { authzid, host: server.domain, port: server.port });
    let reply = await stream.sasl(`<auth xmlns='${NS_SASL}' mechanism='OAUTHBEARER'>${b64(message)}</auth>`);
    let error;
    if (reply.name === 'challenge') {
      // The error challenge: read it, then answer %x01 as RFC 7628 section 3.2.3 says.
      error = JSON.parse(reply.data);
      reply = await stream.sasl(`<response xmlns='${NS_SASL}'>${b64('\x01')}</response>`);
    }
    if (reply.name === 'success') return { ok: true, jid: await stream.bind() };
    return { ok: false, condition: reply.condition, error };
  } finally {
    stream.close();
  }
}

/**
 * SASL PLAIN with the account's password (or, for legacy clients, an access
 * token as the password): { ok: true, jid } or { ok: false, condition }.
 */
export async function plainLogin(server, username, password) {
  const stream = await openStream(server);
  try {
    if (!stream.mechanisms.includes('PLAIN')) throw new Error(`the server offers no PLAIN (only ${stream.mechanisms.join(', ')})`);
    const reply = await stream.sasl(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64(`\0${username}\0${password}`)}</auth>`);
    if (reply.name === 'success') return { ok: true, jid: await stream.bind() };
    return { ok: false, condition: reply.condition };
  } finally {
    stream.close();
  }
}

/** Step 1: where is the authorization server? An empty token makes the server say. */
export async function discover(server) {
  const result = await oauthbearerLogin(server, '');
  const url = result.error?.['openid-configuration'];
  if (!url) throw new Error(`no openid-configuration in the server's answer (${result.condition ?? 'success?'})`);
  return { openidConfiguration: url, scope: result.error.scope ?? LOGIN_SCOPE };
}

async function json(res, what) {
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`.trim());
  return body;
}

/** Step 2a: the authorization server's metadata. */
export async function fetchMetadata(url) {
  const meta = await json(await fetch(url), 'metadata');
  for (const key of ['issuer', 'authorization_endpoint', 'token_endpoint', 'registration_endpoint']) {
    if (typeof meta[key] !== 'string') throw new Error(`the metadata has no ${key}`);
  }
  if (!meta.code_challenge_methods_supported?.includes('S256')) throw new Error('the server does not support PKCE S256');
  return meta;
}

/** Step 2b: dynamic registration as a public native client with a loopback redirect. */
export async function register(meta, { scope, clientName = 'XEP-0493 example client', clientUri = 'https://example.org/xep0493-example' } = {}) {
  const body = await json(
    await fetch(meta.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: clientName,
        client_uri: clientUri,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'], // any port, RFC 8252 section 7.3
        scope,
      }),
    }),
    'registration',
  );
  return body.client_id;
}

/**
 * Step 3: listens on a loopback port, returns the URL for the user's browser
 * and a promise of the tokens once the browser comes back with a code.
 */
export async function authorize(meta, clientId, { scope, loginHint, redirectPort = 0 } = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  let done;
  const code = new Promise((resolve, reject) => (done = { resolve, reject }));
  const listener = createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname !== '/callback') return void res.writeHead(204).end();
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('You can close this window and return to the application.');
    if (u.searchParams.get('state') !== state) done.reject(new Error('state mismatch'));
    else if (u.searchParams.get('iss') && u.searchParams.get('iss') !== meta.issuer) done.reject(new Error('iss mismatch (RFC 9207)'));
    else if (u.searchParams.get('error')) done.reject(new Error(`authorization refused: ${u.searchParams.get('error')}`));
    else done.resolve(u.searchParams.get('code'));
  });
  await new Promise((resolve, reject) => {
    listener.once('error', (err) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`the redirect port ${redirectPort} is in use; choose another with --redirect-port`) : err),
    );
    listener.listen(redirectPort, '127.0.0.1', resolve);
  });
  const redirectUri = `http://127.0.0.1:${listener.address().port}/callback`;
  const url = new URL(meta.authorization_endpoint);
  const params = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...(loginHint && { login_hint: loginHint }),
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const tokens = code
    .then((c) => tokenRequest(meta, { grant_type: 'authorization_code', code: c, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId }))
    .finally(() => listener.close());
  return { url: url.toString(), tokens };
}

export function tokenRequest(meta, params) {
  return fetch(meta.token_endpoint, { method: 'POST', body: new URLSearchParams(params) }).then((res) => json(res, 'token request'));
}

/** Step 4b: a new access token (and, rotated, a new refresh token). */
export function refresh(meta, clientId, refreshToken) {
  return tokenRequest(meta, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
}

const USAGE =
  'usage: node examples/xep0493-client.mjs user@domain [--server host:port] [--insecure-tls] ' +
  '[--redirect-port N | --token TOKEN | --password-stdin]';

function usage(problem) {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
}

/** The value after `--name`, or undefined; a flag without its value is a usage error. */
function option(args, name) {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) usage(`--${name} needs a value`);
  return value;
}

async function readStdin() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, '');
}

/** --token / --password-stdin: one login, its outcome printed; exit 0 when it worked. */
async function checkLogin(server, jid, login) {
  const result = await login;
  if (!result.ok) {
    const why = result.error ? ` ${JSON.stringify(result.error)}` : '';
    console.error(`login as ${jid} refused: ${result.condition}${why}`);
    process.exit(1);
  }
  console.log(`logged in as ${result.jid}`);
  process.exit(0);
}

async function main() {
  const args = process.argv.slice(2);
  const jid = args.find((a) => !a.startsWith('--') && a.includes('@') && args[args.indexOf(a) - 1] !== '--token');
  if (!jid) usage('no user@domain given');
  const domain = jid.slice(jid.indexOf('@') + 1);
  const [host, port] = (option(args, 'server') ?? `${domain}:5222`).split(':');
  const server = { host, port: Number(port ?? 5222), domain, insecureTls: args.includes('--insecure-tls') };
  const redirectText = option(args, 'redirect-port') ?? process.env.XEP0493_REDIRECT_PORT;
  const redirectPort = redirectText === undefined ? 0 : Number(redirectText);
  if (!Number.isInteger(redirectPort) || redirectPort < 0 || redirectPort > 65535) usage(`not a port: ${redirectText}`);

  const token = option(args, 'token');
  if (token !== undefined) return checkLogin(server, jid, oauthbearerLogin(server, token));
  if (args.includes('--password-stdin')) return checkLogin(server, jid, plainLogin(server, jid.slice(0, jid.indexOf('@')), await readStdin()));

  const { openidConfiguration, scope } = await discover(server);
  console.log(`1. ${domain} points to ${openidConfiguration} (scope ${scope})`);
  const meta = await fetchMetadata(openidConfiguration);
  const wanted = `${scope} offline_access`;
  const clientId = await register(meta, { scope: wanted });
  console.log(`2. registered as ${clientId.slice(0, 24)}…`);
  const { url, tokens } = await authorize(meta, clientId, { scope: wanted, loginHint: jid, redirectPort });
  console.log(`3. open this in your browser, sign in as ${jid} and allow:\n\n   ${url}\n`);
  const first = await tokens;
  console.log(`   granted scope: ${first.scope}`);
  const login = await oauthbearerLogin(server, first.access_token);
  if (!login.ok) throw new Error(`OAUTHBEARER login failed: ${login.condition} ${JSON.stringify(login.error ?? {})}`);
  console.log(`4. logged in as ${login.jid}`);
  const next = await refresh(meta, clientId, first.refresh_token);
  const again = await oauthbearerLogin(server, next.access_token);
  console.log(again.ok ? `5. refreshed, logged in again as ${again.jid}` : `5. login with the refreshed token failed: ${again.condition}`);
  process.exit(again.ok ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(`error: ${err.message}`);
    process.exit(1);
  });
}
