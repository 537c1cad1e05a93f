// Before running an ad-hoc command for a local user, the component asks the
// user's XMPP server what the sending session may do (issue 22 #2): the
// server's `from` names the account, never the scope its session logged in
// with. Our module answers <session/> (docs/protocol.md, "Session scope").
import { accountAccessOf, narrower, type AccountAccess } from '../../oauth/xmpp-login/account-access.js';
import type { Logger } from '../../log.js';
import { NS_AUTH } from '../auth-protocol.js';
import { xml, type Element } from '../xml.js';

/**
 * An access level; `no-session`: the server has no such session bound (refuse);
 * `unavailable`: the server could not be asked now (refuse, retry later).
 */
export type SessionAccess = AccountAccess | 'no-session' | 'unavailable';

export interface Asker {
  request(iq: Element, timeoutMs?: number): Promise<Element>;
}

const TIMEOUT_MS = 3_000;
/** A server without our module (ejabberd): no restriction is known there (ejabberd refuses account-only logins). */
const NOT_OURS = new Set(['service-unavailable', 'feature-not-implemented']);

export function sessionAccessOver(link: Asker, hosts: readonly string[], log: Logger): (from: string) => Promise<SessionAccess> {
  const served = hosts.map((h) => h.toLowerCase());
  return async (from) => {
    const slash = from.indexOf('/');
    const bare = (slash < 0 ? from : from.slice(0, slash)).toLowerCase();
    const domain = bare.slice(bare.lastIndexOf('@') + 1);
    // Only our own hosts can be asked; a user there always sends from a bound (full) JID.
    if (!served.includes(domain)) return 'full';
    if (slash < 0 || !bare.includes('@')) return 'no-session';
    let reply: Element;
    try {
      reply = await link.request(xml('iq', { type: 'get', to: domain }, xml('session', { xmlns: NS_AUTH, jid: from })), TIMEOUT_MS);
    } catch (err) {
      const condition = (err as { condition?: string }).condition;
      if (condition === 'item-not-found') return 'no-session';
      if (condition && NOT_OURS.has(condition)) return 'full';
      log.info({ err: condition ?? (err as Error).name }, 'ad-hoc command refused: could not ask the XMPP server about the session');
      return 'unavailable';
    }
    const session = reply.getChild('session', NS_AUTH);
    if (!session) return 'unavailable';
    // Our own reading of the scope, and the module's: the narrower wins.
    const scope = typeof session.attrs.scope === 'string' ? session.attrs.scope.split(' ').filter(Boolean) : [];
    const said: AccountAccess = session.attrs.level === 'write' ? 'write' : session.attrs.level === 'full' ? 'full' : 'read';
    return narrower(accountAccessOf(scope), session.attrs.restricted === 'false' ? said : narrower(said, 'write'));
  };
}
