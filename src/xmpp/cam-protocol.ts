// The component's half of XEP-0494 (Client Access Management): the XMPP
// server's module answers the user's <list/> and <revoke/> and asks us here,
// because only the component knows grants (docs/protocol.md, "Client access").
// Also the other direction: which sessions of an account are live, asked of
// the XMPP server for the account page and the ad-hoc commands.
import { makeBareJid } from '../accounts/jid.js';
import { accountAccessOf, mayRevoke } from '../oauth/xmpp-login/account-access.js';
import type { ClientAccess, LiveSession, LiveSessions } from '../oauth/clients/client-access.js';
import { clientAccessOf } from '../oauth/clients/client-access.js';
import { revokeGrantOf } from '../oauth/grants/grant-management.js';
import { servedJid } from '../oauth/xmpp-login/xmpp-server-api.js';
import { guarded, NS_AUTH, type Deps } from './auth-protocol.js';
import { iqError } from './errors.js';
import type { IqRegistry } from './iq.js';
import type { ComponentLink } from './link.js';
import { xml, type Element } from './xml.js';

export const NS_CAM = 'urn:xmpp:cam:0';

/** Grant ids are ours (base64url); anything longer or odder is malformed. */
const GRANT_ID = /^[A-Za-z0-9_-]{1,100}$/;
const LIVE_TIMEOUT_MS = 2_000;

/** XEP-0082 date-time, whole seconds. */
export const xmppDateTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** One XEP-0494 <client/> for a grant; the module sets `connected` from its own sessions. */
export function camClient(c: ClientAccess): Element {
  // The SASL2 <user-agent> of the latest login with this grant names the client and device (issue 24 #2).
  const agent = [xml('software', {}, c.agentSoftware ?? c.software)];
  if (c.uri) agent.push(xml('uri', {}, c.uri));
  if (c.device) agent.push(xml('device', {}, c.device));
  return xml(
    'client',
    { xmlns: NS_CAM, id: c.id, type: 'access', connected: 'false', scope: c.grant.scope.join(' ') },
    xml('first-seen', {}, xmppDateTime(c.firstSeen)),
    xml('last-seen', {}, xmppDateTime(c.lastSeen)),
    xml('auth', {}, xml('grant')),
    xml('permission', { status: c.permission }),
    xml('user-agent', c.agentId ? { id: c.agentId } : {}, ...agent),
  );
}

export function registerCamProtocol(link: IqRegistry, deps: Deps): void {
  const { core, log } = deps;

  link.handleIq('get', NS_AUTH, 'clients', (ctx) =>
    guarded(deps, 'clients', ctx, async ({ user, host }) => {
      const jid = servedJid(core, user, host);
      if (!jid) return iqError('bad-request', 'not a valid user name on a host this service serves');
      const clients = await clientAccessOf(core, jid);
      core.metrics?.xmppQuery('clients', 'ok');
      return xml('clients', { xmlns: NS_AUTH }, ...clients.map(camClient));
    }),
  );

  link.handleIq('set', NS_AUTH, 'revoke-grant', (ctx) =>
    guarded(deps, 'revoke-grant', ctx, async ({ user, host, element }) => {
      const jid = servedJid(core, user, host);
      const id = element.attrs.grant;
      if (!jid || typeof id !== 'string' || !GRANT_ID.test(id)) {
        log.info({ op: 'revoke-grant' }, 'revoke-grant refused: bad user or grant id');
        return iqError('bad-request', 'user and a grant id are required');
      }
      // The module sends the asking session's scope (none for a password session):
      // revoking needs xmpp:account:write, checked here as well as in the module.
      const scope = typeof element.attrs.scope === 'string' ? element.attrs.scope.split(' ').filter(Boolean) : [];
      if (!mayRevoke(accountAccessOf(scope))) {
        log.info({ op: 'revoke-grant' }, 'revoke-grant refused: the session may only list (xmpp:account:read)');
        core.metrics?.xmppQuery('revoke-grant', 'forbidden');
        return iqError('forbidden', 'revoking needs the xmpp:account:write scope');
      }
      // Someone else's grant reads exactly like an unknown one.
      const revoked = await revokeGrantOf(core, jid, id, 'XEP-0494');
      core.metrics?.xmppQuery('revoke-grant', revoked ? 'ok' : 'item-not-found');
      if (!revoked) return iqError('item-not-found', 'no such client');
      return undefined;
    }),
  );
}

/**
 * LiveSessions over the component link: asks the account's XMPP host (our
 * module answers `sessions`). null while this instance's link is not up, or
 * when the server does not answer in time.
 */
export function liveSessionsOver(link: ComponentLink, hosts: string[], log: Deps['log']): LiveSessions {
  const served = hosts.map((h) => h.toLowerCase());
  return async (jid) => {
    if (!link.online) return null;
    let bare;
    try {
      bare = makeBareJid(jid.slice(0, jid.lastIndexOf('@')), jid.slice(jid.lastIndexOf('@') + 1));
    } catch {
      return null;
    }
    if (!bare.local || !served.includes(bare.domain)) return null;
    try {
      const reply = await link.request(
        xml('iq', { type: 'get', to: bare.domain }, xml('sessions', { xmlns: NS_AUTH, user: bare.local })),
        LIVE_TIMEOUT_MS,
      );
      const out: LiveSession[] = [];
      for (const s of reply.getChild('sessions', NS_AUTH)?.getChildren('session') ?? []) {
        const since = Number(s.attrs.since);
        if (s.attrs.grant && s.attrs.user === bare.local) out.push({ grantId: s.attrs.grant, since: Number.isFinite(since) ? since * 1000 : 0 });
      }
      return out;
    } catch (err) {
      log.debug({ err: (err as Error).name }, 'could not ask the XMPP server for live sessions');
      return null;
    }
  };
}
