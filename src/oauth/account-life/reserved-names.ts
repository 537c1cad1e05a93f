// Names that no self-service door may create: the admins (who get admin commands
// by name) and the configured reserved names (admin, root, postmaster, ...). An
// operator can still create them with `xmpp-oauth user add`.
import type { Config } from '../../config/schema.js';

/** Why no self-service door may create `jid` (a bare JID, normalised), or null. */
export function reservedBecause(config: Pick<Config, 'admins' | 'upstream'>, jid: string): string | null {
  if (config.admins.includes(jid)) return 'the JID is in admins';
  const local = jid.slice(0, jid.lastIndexOf('@'));
  return config.upstream.reserved_names.includes(local) ? 'the user name is in upstream.reserved_names' : null;
}
