// The questions an XMPP server asks about its users, independent of how they
// arrive (component IQ or an external-auth program). Every answer is plain data;
// a Redis outage surfaces as StoreUnavailableError for the front door to map.
import { createHash } from 'node:crypto';
import { AccountError, type ScramLookup } from '../../accounts/accounts.js';
import type { ScramHash } from '../../accounts/scram.js';
import { makeBareJid } from '../../accounts/jid.js';
import { disableAccount, enableAccount } from '../account-life/account-admin.js';
import { changePassword, createAccount, removeAccount } from '../account-life/account-lifecycle.js';
import type { CoreDeps } from '../context.js';
import { needsUpstreamSignIn } from '../account-life/upstream-freshness.js';
import { reservedBecause } from '../account-life/reserved-names.js';
import { validateAccountToken } from '../tokens/validate-token.js';
import { authenticate, type LoginOptions, type LoginResult } from './xmpp-login.js';
import { recordXmppLogin } from '../account-life/security-events.js';
import { effectivePasswordLogins } from '../../accounts/second-factor/password-doors.js';

export type ChangeResult = { ok: true } | { ok: false; reason: 'bad-request' | 'missing' | 'exists' | 'bad-password' | 'refused' | 'reserved' };

/** The bare JID for user@host when host is one we serve, else null. */
export function servedJid(deps: CoreDeps, user: string, host: string): string | null {
  try {
    const jid = makeBareJid(user, host);
    return deps.config.xmpp.hosts.some((h) => h.toLowerCase() === jid.domain) ? jid.bare : null;
  } catch {
    return null;
  }
}

export function checkLogin(deps: CoreDeps, user: string, host: string, secret: string, opts?: LoginOptions): Promise<LoginResult> {
  return authenticate(deps, user, host, secret, opts);
}

export type ScramAnswer = ScramLookup | { ok: false; reason: 'bad-request' };

/** A SCRAM verifier for the XMPP server to run the exchange with (a decoy for unknown accounts). */
export async function scramVerifier(deps: CoreDeps, user: string, host: string, hash: ScramHash, address?: string): Promise<ScramAnswer> {
  const jid = servedJid(deps, user, host);
  if (!jid) return { ok: false, reason: 'bad-request' };
  return deps.accounts.scramVerifier(jid, hash, address);
}

/** The XMPP server's report that a SCRAM exchange succeeded: the attempt is given back, and the login logged. */
export async function scramSucceeded(deps: CoreDeps, user: string, host: string, mechanism: string, address?: string): Promise<boolean> {
  const jid = servedJid(deps, user, host);
  if (!jid) return false;
  await deps.accounts.scramSucceeded(jid, address);
  deps.log.info({ jid, via: 'password', mechanism, address }, 'xmpp login accepted');
  recordXmppLogin(deps, jid, { via: 'password', mechanism, address });
  deps.metrics?.login('password', 'ok');
  return true;
}

export async function userExists(deps: CoreDeps, user: string, host: string): Promise<boolean> {
  const jid = servedJid(deps, user, host);
  return jid !== null && deps.store.accountExists(jid);
}

/**
 * The XMPP server's password change (XEP-0077 from a client, or its admin
 * tool). No page can ask the user here, so: every web login session ends;
 * grants (apps the user approved) stay unless `setpass_revokes_grants` is on.
 */
export async function setPassword(deps: CoreDeps, user: string, host: string, password: string): Promise<ChangeResult> {
  const jid = servedJid(deps, user, host);
  if (!jid) return { ok: false, reason: 'bad-request' };
  return change(() => changePassword(deps, jid, password, { revokeGrants: deps.config.setpass_revokes_grants, by: 'xmpp setpass' }));
}

/** In-band registration: the XMPP server's own registration policy already allowed it. */
export async function registerUser(deps: CoreDeps, user: string, host: string, password: string): Promise<ChangeResult> {
  const jid = servedJid(deps, user, host);
  if (!jid) return { ok: false, reason: 'bad-request' };
  // In-band registration is self-service, like an upstream sign-in: an admin's name is not there to take.
  const reserved = reservedBecause(deps.config, jid);
  if (reserved) {
    deps.log.info({ jid, why: reserved }, 'in-band registration refused: reserved name');
    return { ok: false, reason: 'reserved' };
  }
  return change(() => createAccount(deps, jid, password, 'xmpp register'));
}

/**
 * Removes the account, its login sessions and every grant it made. With a password
 * (ejabberd's removeuser3) the password must be right first.
 */
export async function removeUser(deps: CoreDeps, user: string, host: string, password?: string): Promise<ChangeResult> {
  const jid = servedJid(deps, user, host);
  if (!jid) return { ok: false, reason: 'bad-request' };
  if (password !== undefined) {
    const verified = await deps.accounts.verify(jid, password, undefined, { outsideWeb: true });
    if (!verified.ok) return { ok: false, reason: 'refused' };
  }
  return change(() => removeAccount(deps, jid, 'xmpp server'));
}

/**
 * Issue 24 #6: Prosody 13's `prosodyctl shell user disable|enable` through the
 * provider. The same core as `xmpp-oauth user disable|enable`, so both agree:
 * disabling revokes every grant and app password, enabling lets the account log
 * in again (revoked grants stay revoked).
 */
export async function setUserDisabled(deps: CoreDeps, user: string, host: string, disabled: boolean): Promise<ChangeResult> {
  const jid = servedJid(deps, user, host);
  if (!jid) return { ok: false, reason: 'bad-request' };
  const result = disabled ? await disableAccount(deps, jid, 'xmpp server') : await enableAccount(deps, jid, 'xmpp server');
  return result.ok ? { ok: true } : { ok: false, reason: result.reason === 'missing' ? 'missing' : 'bad-request' };
}

export async function listUsers(deps: CoreDeps, host: string): Promise<string[] | null> {
  const domain = host.toLowerCase();
  if (!deps.config.xmpp.hosts.some((h) => h.toLowerCase() === domain)) return null;
  const suffix = `@${domain}`;
  return (await deps.accounts.list()).filter((j) => j.endsWith(suffix)).map((j) => j.slice(0, -suffix.length));
}

export type CredentialAnswer = { ok: true; alive: boolean; epoch?: string } | { ok: false; reason: 'bad-request' };

/**
 * Whether the credential behind an earlier login still stands (issue 24 #3:
 * a FAST token the XMPP server minted after that login lives only as long as
 * it). Dead when the account is gone or disabled; for a token or app-password
 * login also when its grant is revoked (any door) or is not the account's, or
 * the account's upstream sign-in lapsed (back-channel logout); for a password
 * login also when the main password now works on the web sign-in only. `epoch` is a
 * digest of the account's session epoch, which a password change, "sign out
 * everywhere" or a re-created account moves: the server compares it with the
 * one it recorded for a password login. The digest, not the epoch, leaves us.
 */
export async function credentialAlive(deps: CoreDeps, user: string, host: string, via: string, grantId?: string): Promise<CredentialAnswer> {
  const jid = servedJid(deps, user, host);
  if (!jid) return { ok: false, reason: 'bad-request' };
  if (via !== 'password' && via !== 'token' && via !== 'app-password') return { ok: false, reason: 'bad-request' };
  if (via !== 'password' && !grantId) return { ok: false, reason: 'bad-request' };
  // Where the main password works is read beside the account (one round trip).
  const [account, logins] = await Promise.all([deps.store.getAccount(jid), via === 'password' ? deps.store.secondFactors.passwordLogins(jid) : null]);
  if (!account || account.disabled) return { ok: true, alive: false };
  const epoch = createHash('sha256').update(`xmpp-oauth fast epoch\0${jid}\0${account.epoch ?? ''}`).digest('base64url').slice(0, 22);
  // Issue 26: once the main password works on the web sign-in only, what it opened outside the web is dead too.
  if (via === 'password') return { ok: true, alive: effectivePasswordLogins(account, logins, deps.config.password_logins) === 'anywhere', epoch };
  const grant = await deps.store.tokenGrant(grantId!, jid);
  if (!grant || (via === 'app-password') !== (grant.kind === 'app_password')) return { ok: true, alive: false };
  if (needsUpstreamSignIn(deps, account)) return { ok: true, alive: false };
  return { ok: true, alive: true, epoch };
}

export type TokenInfo =
  | { active: false }
  | { active: true; jid: string; scope: string[]; clientId: string; exp: number; iat: number; grantId: string };

/** Token validation for the XMPP side (same rules as introspection: revocation is immediate). */
export async function inspectToken(deps: CoreDeps, token: string): Promise<TokenInfo> {
  const valid = await validateAccountToken(deps.signer, deps.store, token);
  if (!valid) return { active: false };
  // Long client ids travel in the token as a digest; the grant has the real one.
  const clientId = valid.clientId.startsWith('h:') ? valid.grant.clientId : valid.clientId;
  return {
    active: true,
    jid: valid.jid,
    scope: valid.scope,
    clientId,
    exp: valid.exp,
    iat: valid.claims.iat,
    grantId: valid.grantId,
  };
}

async function change(op: () => Promise<unknown>): Promise<ChangeResult> {
  try {
    await op();
    return { ok: true };
  } catch (err) {
    if (!(err instanceof AccountError)) throw err;
    const reason = err.code === 'bad-jid' ? 'bad-request' : err.code;
    return { ok: false, reason };
  }
}
