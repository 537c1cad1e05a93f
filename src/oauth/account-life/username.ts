import { normaliseJid } from '../../accounts/jid.js';
import type { Config } from '../../config/schema.js';

/**
 * What a user types as "username" becomes a bare JID: a full JID is taken as
 * it is; a bare localpart gets the first served XMPP domain, unless the
 * operator set expect_username_jid. Only served domains are accepted.
 */
export function usernameToJid(username: string, config: Pick<Config, 'expect_username_jid' | 'xmpp'>): string | null {
  const trimmed = username.trim();
  const full = trimmed.includes('@') ? trimmed : config.expect_username_jid ? null : `${trimmed}@${config.xmpp.hosts[0]}`;
  const jid = full ? normaliseJid(full) : null;
  if (!jid) return null;
  const domain = jid.slice(jid.lastIndexOf('@') + 1);
  return config.xmpp.hosts.map((h) => h.toLowerCase()).includes(domain) ? jid : null;
}
