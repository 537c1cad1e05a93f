// Shared pieces of the issue 14 tests (XEP-0494, live revocation, restricted
// sessions): a registered app with every metadata field XEP-0494 shows, a
// fresh grant through the code flow, XEP-0494 calls, and session-close checks.
import assert from 'node:assert/strict';
import type xmlModule from '@xmpp/xml';
import { FormBrowser } from './browser.js';
import { authorizeInBrowser, authUrl, pkcePair, tokenCall } from './flow.js';
import type { TestServer } from './server.js';
import { chatSession, plainLogin, xml, type ChatSession, type LoginTarget } from './xmpp-client.js';

type El = xmlModule.Element;

export const COMPONENT = { domain: 'oauth.localhost', secret: 'component-secret' };
export const REGISTRATION_KEY = 'registration-key-for-tests-0123456789abcdef';
export const CAM = 'urn:xmpp:cam:0';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** What a client registers (RFC 7591); every XEP-0494 field is checked against it. */
export const APP = {
  client_name: 'Revocable Chat',
  client_uri: 'https://chat.example/',
  redirect_uris: ['http://127.0.0.1/callback'],
  token_endpoint_auth_method: 'none',
  application_type: 'native',
  grant_types: ['authorization_code', 'refresh_token'],
  scope: 'openid offline_access xmpp xmpp:account:read xmpp:account:write',
  software_id: 'revocable-chat',
  software_version: '2.5.1',
};

/** Token logins to test, by method: one entry here, every test runs for it. */
export const TOKEN_LOGINS: Record<string, (target: LoginTarget, user: string, token: string) => Promise<ChatSession>> = {
  'PLAIN-as-token': (target, user, token) => chatSession(target, user, token, resource()),
  OAUTHBEARER: (target, user, token) => chatSession(target, user, token, resource(), { mechanism: 'OAUTHBEARER' }),
};

let resources = 0;
/** A resource of its own for every session. */
export const resource = () => `r${++resources}`;

export interface Granted {
  clientId: string;
  grantId: string;
  access_token: string;
  refresh_token: string;
  /** The redeemed code and its verifier, for replaying it. */
  code: string;
  verifier: string;
}

/** Registers APP dynamically, then the code flow with PKCE as `user`: a fresh grant. */
export async function grantFor(base: string, server: TestServer, user: string, password: string, scope = 'openid offline_access xmpp'): Promise<Granted> {
  const reg = await fetch(new URL('/oauth2/register', base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(APP) });
  assert.equal(reg.status, 201, await reg.clone().text());
  const clientId = ((await reg.json()) as { client_id: string }).client_id;
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeInBrowser(
    new FormBrowser(),
    authUrl(base, {
      response_type: 'code', client_id: clientId, redirect_uri: APP.redirect_uris[0]!, scope, state: 's',
      code_challenge: challenge, code_challenge_method: 'S256',
    }),
    { username: user, password },
  );
  const code = callback.searchParams.get('code');
  assert.ok(code, `no code in ${callback}`);
  const res = await tokenCall(base, { grant_type: 'authorization_code', code, redirect_uri: APP.redirect_uris[0]!, code_verifier: verifier }, 'none', clientId);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const grant = await server.app.store.findGrant(user, clientId);
  assert.ok(grant);
  return { clientId, grantId: grant.id, access_token: res.body.access_token as string, refresh_token: res.body.refresh_token as string, code, verifier };
}

export const camList = async (s: ChatSession) => {
  const clients = await s.iq('', 'get', xml('list', { xmlns: CAM }));
  assert.equal(clients.name, 'clients');
  assert.equal(clients.attrs.xmlns, CAM);
  return clients.getChildren('client');
};

export async function stanzaError(p: Promise<unknown>): Promise<{ condition?: string; app?: El }> {
  try {
    await p;
  } catch (err) {
    const e = err as { condition?: string; application?: El; element?: El };
    const app = e.application ?? e.element?.getChildElements().find((c) => c.attrs.xmlns !== STANZAS);
    return { condition: e.condition, app };
  }
  return { condition: 'no error' };
}

/**
 * The owner's XEP-0494 list shows grant `g`, field by field, as online, and the
 * owner's own password session beside it (as XEP-0494 allows).
 */
export async function assertGrantListed(clients: El[], g: Granted, server: TestServer): Promise<void> {
  const mine = clients.find((c) => c.attrs.id === g.grantId);
  assert.ok(mine, `grant ${g.grantId} not listed: ${clients.map(String).join('\n')}`);
  assert.equal(mine.attrs.type, 'access');
  assert.equal(mine.attrs.connected, 'true', 'a session logged in with this grant is online');
  assert.equal(mine.attrs.scope, undefined, 'no attributes outside XEP-0494');
  const grant = (await server.app.store.getGrant(g.grantId))!;
  assert.equal(mine.getChildText('first-seen'), new Date(grant.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  assert.match(mine.getChildText('last-seen') ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Date.parse(mine.getChildText('last-seen')!) >= Date.parse(mine.getChildText('first-seen')!));
  assert.ok(mine.getChild('auth')?.getChild('grant'), '<auth><grant/></auth>');
  assert.equal(mine.getChild('auth')?.getChild('password'), undefined);
  assert.equal(mine.getChild('permission')?.attrs.status, 'normal');
  const agent = mine.getChild('user-agent')!;
  assert.equal(agent.getChildText('software'), APP.client_name);
  assert.equal(agent.getChildText('uri'), APP.client_uri);
  assert.equal(agent.getChildText('device'), `${APP.software_id} ${APP.software_version}`);
  const pwSession = clients.find((c) => c.attrs.type === 'session');
  assert.ok(pwSession?.getChild('auth')?.getChild('password'));
  assert.equal(pwSession?.getChild('permission')?.attrs.status, 'unrestricted');
  assert.equal(pwSession?.attrs.connected, 'true');
}

/**
 * The owner revokes grant `g` with XEP-0494: an empty result, the token's session
 * closed within 5 s, the token refused at the next login, and the grant gone from
 * the list and from /account.
 */
export async function assertRevokedByOwner(owner: ChatSession, session: ChatSession, g: Granted, opts: { server: TestServer; target: LoginTarget; user: string; password: string }): Promise<void> {
  const revoked = await owner.iq('', 'set', xml('revoke', { xmlns: CAM, id: g.grantId }));
  assert.equal(revoked.name, 'iq', 'an empty result');
  assertRevokedClose(await closedWithin(session, 5000));
  const node = opts.user.slice(0, opts.user.indexOf('@'));
  assert.equal(await plainLogin(opts.target, node, g.access_token), false, 'a new login with the token is refused');
  assert.equal((await camList(owner)).some((c) => c.attrs.id === g.grantId), false, 'the list no longer shows it');
  const page = await accountPage(opts.server.url, opts.user, opts.password);
  assert.match(page, /Applications with access/, 'signed in to /account');
  assert.doesNotMatch(page, new RegExp(g.grantId), '/account no longer shows it');
}

/**
 * What XEP-0494 refuses, and how: an unknown id is item-not-found, a password
 * session password-reset-required (a password has no grant to revoke), a
 * malformed payload bad-request.
 */
export async function assertCamRefusals(owner: ChatSession): Promise<void> {
  const revoke = (attrs: Record<string, string>, type: 'get' | 'set' = 'set') => stanzaError(owner.iq('', type, xml('revoke', { xmlns: CAM, ...attrs })));
  assert.equal((await revoke({ id: 'no-such-grant' })).condition, 'item-not-found');
  assert.equal((await revoke({ id: 'bad id with spaces' })).condition, 'item-not-found');

  const pwSession = (await camList(owner)).find((c) => c.attrs.type === 'session')!;
  const refused = await revoke({ id: pwSession.attrs.id as string });
  assert.equal(refused.condition, 'service-unavailable');
  assert.equal(refused.app?.name, 'password-reset-required');
  assert.equal(refused.app?.attrs.xmlns, CAM);

  assert.equal((await revoke({})).condition, 'bad-request');
  assert.equal((await revoke({ id: '' })).condition, 'bad-request');
  assert.equal((await stanzaError(owner.iq('', 'set', xml('list', { xmlns: CAM })))).condition, 'bad-request');
  assert.equal((await revoke({ id: 'x' }, 'get')).condition, 'bad-request');
}

/** Resolves with the stream error once the session is closed; fails after `ms`. */
export async function closedWithin(s: ChatSession, ms: number): Promise<{ condition?: string; text?: string }> {
  const started = Date.now();
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`session still open after ${ms} ms`)), ms));
  const ended = await Promise.race([s.ended, timeout]);
  assert.ok(Date.now() - started <= ms);
  return ended;
}

export const assertRevokedClose = (e: { condition?: string; text?: string }) => {
  assert.equal(e.condition, 'policy-violation');
  assert.equal(e.text, 'access revoked');
};

/** The /account page's HTML after signing in with a password. */
export async function accountPage(base: string, user: string, password: string): Promise<string> {
  const browser = new FormBrowser();
  let res = await browser.get(new URL('/account', base).toString());
  let html = await res.text();
  for (let i = 0; i < 3 && !html.includes('Applications with access'); i++) {
    if (res.status === 302 || res.status === 303) {
      res = await browser.get(new URL(res.headers.get('location')!, base).toString());
    } else if (html.includes('name="password"')) {
      res = await browser.submit(new URL('/account', base).toString(), html, { username: user, password });
    } else break;
    html = await res.text();
  }
  return html;
}
