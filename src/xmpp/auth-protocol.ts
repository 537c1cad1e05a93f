// The authentication queries an XMPP server sends us over the component link
// (docs/protocol.md). One handler per operation; all of them share the same
// gate (only our XMPP hosts may ask) and the same outage mapping.
import { isIP } from 'node:net';
import type { Logger } from '../log.js';
import type { CoreDeps } from '../oauth/context.js';
import { XMPP_LOGIN_SCOPE_HINT } from '../oauth/scopes.js';
import * as api from '../oauth/xmpp-login/xmpp-server-api.js';
import type { UserAgent } from '../store/types.js';
import { StoreUnavailableError } from '../store/unavailable.js';
import { iqError, type IqErrorReply } from './errors.js';
import type { IqContext, IqHandlerResult, IqRegistry } from './iq.js';
import { xml, type Element } from './xml.js';

export const NS_AUTH = 'urn:xmpp-oauth:auth:0';

/** Longest SASL2 user-agent values we record (issue 24 #2): the id is meant to be a UUID. */
const USER_AGENT_LIMITS = { id: 128, software: 256, device: 256 } as const;

/**
 * The SASL2 `<user-agent>` the module passes with an `auth` query, as
 * `user-agent-id`, `user-agent-software` and `user-agent-device`. A value too
 * long, empty or with control characters is left out (logged at info); the
 * login itself is never refused for it.
 */
export function userAgentOf(element: Element, log: Logger, from: string): UserAgent | undefined {
  const agent: UserAgent = {};
  for (const key of Object.keys(USER_AGENT_LIMITS) as Array<keyof typeof USER_AGENT_LIMITS>) {
    const value = element.attrs[`user-agent-${key}`];
    if (typeof value !== 'string') continue;
    const trimmed = value.trim();
    // eslint-disable-next-line no-control-regex
    if (!trimmed || Buffer.byteLength(trimmed) > USER_AGENT_LIMITS[key] || /[\u0000-\u001f\u007f]/.test(trimmed)) {
      log.info({ from, op: 'auth', field: `user-agent-${key}` }, 'auth query: user-agent value ignored (empty, too long or control characters)');
      continue;
    }
    agent[key] = trimmed;
  }
  return Object.keys(agent).length ? agent : undefined;
}

/** Longest secret or token we read from a query (Prosody refuses auth queries past 1000 bytes anyway). */
const MAX_SECRET_BYTES = 4096;

export interface Deps {
  core: CoreDeps;
  log: Logger;
}

export type Op = (args: { user: string; host: string; text: string; element: Element; from: string }) => Promise<IqHandlerResult>;

export function registerAuthProtocol(link: IqRegistry, deps: Deps): void {
  const { core } = deps;
  const on = (type: 'get' | 'set', name: string, op: Op): void => {
    link.handleIq(type, NS_AUTH, name, (ctx) => guarded(deps, name, ctx, op));
  };

  on('get', 'auth', async ({ user, host, text, element, from }) => {
    const tokenOnly = element.attrs.kind === 'token';
    const address = element.attrs.address;
    // Our Prosody module holds an account-only login to account management (restrict.lib.lua).
    const userAgent = userAgentOf(element, deps.log, from);
    const result = await api.checkLogin(core, user, host, text, { address, tokenOnly, canRestrict: true, userAgent });
    core.metrics?.xmppQuery('auth', result.ok ? 'ok' : result.reason);
    if (result.ok) {
      const { token } = result;
      // Contract 2 (docs/protocol.md): a login that used a grant (token or app password) names it, so the module keeps grant and scope on the session.
      const used: Record<string, string | number> = token
        ? { grant: token.grantId, scope: token.scope.join(' '), exp: token.exp }
        : result.grantId
          ? { grant: result.grantId, scope: (result.scope ?? []).join(' ') }
          : {};
      return reply('auth', { result: 'ok', jid: result.jid, via: result.via, ...used });
    }
    if (result.reason === 'throttled') {
      return reply('auth', { result: 'throttled', 'retry-after': Math.ceil((result.retryAfterMs ?? 1000) / 1000) });
    }
    // A refused token check tells the module where a XEP-0493 client finds us,
    // so the issuer is configured here only (RFC 7628 section 3.2.2 challenge).
    const discovery: Record<string, string> = result.asToken
      ? { 'openid-configuration': `${core.config.issuer}/.well-known/openid-configuration`, 'required-scope': XMPP_LOGIN_SCOPE_HINT }
      : {};
    return reply('auth', { result: result.reason, ...discovery });
  });

  on('get', 'scram', async ({ user, host, element, from }) => {
    const hash = element.attrs.hash;
    const address = element.attrs.address;
    if (hash !== 'SHA-1' && hash !== 'SHA-256') {
      deps.log.info({ from, op: 'scram' }, 'scram query refused: hash is not SHA-1 or SHA-256');
      return iqError('bad-request', 'the hash attribute must be SHA-1 or SHA-256');
    }
    const answer = await api.scramVerifier(core, user, host, hash, address);
    core.metrics?.xmppQuery('scram', answer.ok ? 'ok' : answer.reason);
    if (answer.ok) {
      const v = answer.verifier;
      return reply('scram', { result: 'ok', hash, salt: v.salt, iterations: v.iterations, 'stored-key': v.storedKey, 'server-key': v.serverKey });
    }
    if (answer.reason === 'throttled') return reply('scram', { result: 'throttled', 'retry-after': Math.ceil(answer.retryAfterMs / 1000) });
    return reply('scram', { result: 'bad-request' });
  });

  on('set', 'scram-success', async ({ user, host, element }) => {
    const address = element.attrs.address;
    const mechanism = element.attrs.mechanism ?? 'SCRAM';
    const known = await api.scramSucceeded(core, user, host, mechanism, address);
    core.metrics?.xmppQuery('scram-success', known ? 'ok' : 'bad-request');
    return known ? undefined : iqError('bad-request', 'not a valid user name on a host this service serves');
  });

  // Issue 24 #3: is the credential behind an earlier login still alive (FAST tokens hang off it)?
  on('get', 'credential', async ({ user, host, element }) => {
    const answer = await api.credentialAlive(core, user, host, element.attrs.via ?? '', element.attrs.grant || undefined);
    if (!answer.ok) {
      core.metrics?.xmppQuery('credential', 'bad-request');
      return iqError('bad-request', 'via must be password, token or app-password (with grant), for an account of a host this service serves');
    }
    core.metrics?.xmppQuery('credential', answer.alive ? 'alive' : 'dead');
    return reply('credential', answer.alive ? { alive: 'true', epoch: answer.epoch! } : { alive: 'false' });
  });

  on('get', 'isuser', async ({ user, host }) => {
    const exists = await api.userExists(core, user, host);
    core.metrics?.xmppQuery('isuser', exists ? 'yes' : 'no');
    return reply('isuser', { exists: String(exists) });
  });

  on('get', 'users', async ({ host }) => {
    const users = await api.listUsers(core, host);
    core.metrics?.xmppQuery('users', users ? 'ok' : 'item-not-found');
    if (!users) return iqError('item-not-found', `${host} is not a host this service serves`);
    return xml('users', { xmlns: NS_AUTH, host }, ...users.map((u) => xml('user', {}, u)));
  });

  on('get', 'validate', async ({ text }) => {
    const info = await api.inspectToken(core, text);
    core.metrics?.xmppQuery('validate', info.active ? 'active' : 'inactive');
    if (!info.active) return reply('validate', { active: 'false' });
    return reply('validate', {
      active: 'true',
      jid: info.jid,
      scope: info.scope.join(' '),
      client_id: info.clientId,
      exp: info.exp,
      iat: info.iat,
    });
  });

  on('set', 'setpass', async ({ user, host, text }) => change('setpass', await api.setPassword(core, user, host, text)));
  on('set', 'register', async ({ user, host, text }) => change('register', await api.registerUser(core, user, host, text)));
  on('set', 'remove', async ({ user, host, element }) => {
    // The password is optional here (ejabberd's removeuser3 sends one).
    const password = element.getChildText('password');
    return change('remove', await api.removeUser(core, user, host, password ?? undefined));
  });

  // Issue 24 #6: Prosody 13's usermanager disable_user / enable_user.
  on('set', 'disable', async ({ user, host }) => change('disable', await api.setUserDisabled(core, user, host, true)));
  on('set', 'enable', async ({ user, host }) => change('enable', await api.setUserDisabled(core, user, host, false)));

  function change(op: string, result: api.ChangeResult): IqHandlerResult {
    core.metrics?.xmppQuery(op, result.ok ? 'ok' : result.reason);
    if (result.ok) return undefined;
    return CHANGE_ERRORS[result.reason];
  }
}

const CHANGE_ERRORS: Record<Exclude<api.ChangeResult, { ok: true }>['reason'], IqErrorReply> = {
  'bad-request': iqError('bad-request', 'not a valid user name on a host this service serves (at most 64 bytes for new accounts)'),
  missing: iqError('item-not-found', 'no such account'),
  exists: iqError('conflict', 'the account exists already'),
  'bad-password': iqError('not-acceptable', 'the password does not meet the password policy'),
  refused: iqError('not-authorized', 'wrong password'),
  reserved: iqError('not-allowed', 'this user name is reserved on this server'),
};

function reply(name: string, attrs: Record<string, string | number>): Element {
  return xml(name, { xmlns: NS_AUTH, ...attrs });
}

/** Only a served XMPP host, as a bare domain, may ask; bad shapes are refused before the core sees them. */
export async function guarded(deps: Deps, name: string, ctx: IqContext, op: Op): Promise<IqHandlerResult> {
  const { core, log } = deps;
  const from = ctx.from.toLowerCase();
  if (from.includes('@') || from.includes('/') || !core.config.xmpp.hosts.some((h) => h.toLowerCase() === from)) {
    log.info({ from: ctx.from, op: name }, 'auth query refused: sender is not one of xmpp.hosts');
    core.metrics?.xmppQuery(name, 'forbidden');
    return iqError('forbidden', 'only the XMPP server of a configured host may ask');
  }
  const { element } = ctx;
  const user = element.attrs.user ?? '';
  const host = (element.attrs.host || from).toLowerCase();
  // A server speaks for its own host only: several XMPP servers may share one
  // xmpp-oauth, and none may read or change another's accounts.
  if (host !== from) {
    log.info({ from: ctx.from, host, op: name }, 'auth query refused: host is not the sender');
    core.metrics?.xmppQuery(name, 'forbidden');
    return iqError('forbidden', 'a server may only ask about its own host');
  }
  // The client address the throttles count by (auth, scram, scram-success), whichever query carries it.
  const address = element.attrs.address;
  if (address !== undefined && isIP(address) === 0) {
    log.info({ from: ctx.from, op: name }, `${name} query refused: address is not an IP address`);
    return iqError('bad-request', 'the address attribute must be an IPv4 or IPv6 address');
  }
  // For `remove` the password lives in a child, so the plain text is empty.
  const text = element.getChildElements().length ? '' : element.text();
  if (Buffer.byteLength(text) > MAX_SECRET_BYTES) {
    log.info({ from: ctx.from, op: name }, 'auth query refused: payload too large');
    return iqError('not-acceptable', `the payload exceeds ${MAX_SECRET_BYTES} bytes`);
  }
  // A token-only login may leave the account to the token (SASL OAUTHBEARER without authzid).
  const tokenOnlyAuth = name === 'auth' && element.attrs.kind === 'token';
  if (name !== 'users' && name !== 'validate' && !tokenOnlyAuth && !user) {
    log.info({ from: ctx.from, op: name }, 'auth query refused: no user attribute');
    return iqError('bad-request', 'the user attribute is required');
  }
  try {
    return await op({ user, host, text, element, from });
  } catch (err) {
    if (err instanceof StoreUnavailableError) {
      core.metrics?.xmppQuery(name, 'unavailable');
      return { error: 'internal-server-error', type: 'wait', text: 'storage temporarily unavailable; retry' };
    }
    throw err;
  }
}
