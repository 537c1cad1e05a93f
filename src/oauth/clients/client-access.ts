// What has access to an account, in the terms of XEP-0494 (Client Access
// Management): one entry per grant, with the registered client's metadata and
// the permission its scopes give. Whether a session is connected is the XMPP
// server's knowledge, so front doors add it (see LiveSessions).
import type { CoreDeps } from '../context.js';
import { grantsOf, type GrantSummary } from '../grants/grant-management.js';

/** XEP-0494 `<permission status>`: password sessions are `unrestricted`; grants `normal` or `restricted`. */
export type Permission = 'unrestricted' | 'normal' | 'restricted';

/** Scopes that make a token an ordinary XMPP client session (contract 1). */
const NORMAL_SESSION_SCOPES = ['xmpp:client:normal', 'xmpp'];
/** Scopes of a restricted, account-management-only session (contract 1). */
const ACCOUNT_SCOPES = ['xmpp:account:read', 'xmpp:account:write'];

/** normal: a chat client as the user; restricted: account management only, or no XMPP use at all. */
export function permissionOf(scope: readonly string[]): Exclude<Permission, 'unrestricted'> {
  return scope.some((s) => NORMAL_SESSION_SCOPES.includes(s)) ? 'normal' : 'restricted';
}

/** True when a login with this scope is restricted to managing the account (contract 1). */
export function isRestrictedLogin(scope: readonly string[]): boolean {
  return !scope.some((s) => NORMAL_SESSION_SCOPES.includes(s)) && scope.some((s) => ACCOUNT_SCOPES.includes(s));
}

export interface ClientAccess {
  /** The grant id: XEP-0494's client id, and what revoke takes. */
  id: string;
  grant: GrantSummary;
  permission: Exclude<Permission, 'unrestricted'>;
  /** `<software>`: the registered client_name. */
  software: string;
  /** `<uri>`: client_uri. */
  uri?: string;
  /** `<device>`: SASL2's device of the latest login, else software_id and software_version as registered, where known. */
  device?: string;
  /** `<user-agent id>`: the SASL2 user-agent id of the latest XMPP login with this grant (issue 24 #2). */
  agentId?: string;
  /** SASL2's `<software>` of that login, when it named one. */
  agentSoftware?: string;
  /** When access was granted, and last used (token issued, refreshed or used at an XMPP login); unix ms. */
  firstSeen: number;
  lastSeen: number;
}

/** The account's grants as XEP-0494 clients, most recently used first. */
export async function clientAccessOf(deps: Pick<CoreDeps, 'store' | 'clients'>, jid: string): Promise<ClientAccess[]> {
  const grants = await grantsOf(deps, jid);
  return Promise.all(
    grants.map(async (grant) => {
      // The client's registration carries software_id/version; a vanished client (expired
      // registration, removed from the config) still shows what the consent captured.
      const client = await Promise.resolve(deps.clients.find(grant.clientId)).catch(() => null);
      const device = [client?.softwareId, client?.softwareVersion].filter(Boolean).join(' ');
      return {
        id: grant.id,
        grant,
        permission: permissionOf(grant.scope),
        software: grant.clientName,
        uri: grant.clientUri ?? client?.clientUri,
        device: grant.userAgent?.device ?? (device || undefined),
        agentId: grant.userAgent?.id,
        agentSoftware: grant.userAgent?.software,
        firstSeen: grant.createdAt,
        lastSeen: grant.lastUsedAt,
      };
    }),
  );
}

/** The XMPP sessions of one account that logged in with a grant, by grant id. */
export interface LiveSession {
  grantId: string;
  /** Login time, unix ms. */
  since: number;
}

/**
 * Asks the XMPP server which sessions of `jid` are live. null when it cannot
 * tell now (no component link on this instance, server unreachable).
 */
export type LiveSessions = (jid: string) => Promise<LiveSession[] | null>;
