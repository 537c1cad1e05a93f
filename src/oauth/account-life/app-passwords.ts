// App passwords (issue 18, contract 4): a password for a chat client that
// knows only PLAIN/SCRAM, made by the user on /account. Each one is a grant of
// the account (kind `app_password`), so every grant listing shows it and the
// one revocation path (grant-management) ends it.
//
// The secret is 20 random lowercase letters (26^20 ≈ 2^94), shown once in
// groups of four, easy to type on a phone. Only its SHA-256 is stored: with
// 94 bits of entropy from our CSPRNG nobody can search the digest space, so a
// slow hash (argon2id, ~20 ms and 19 MiB a check) would buy nothing but cost
// every XMPP login of every client; argon2id stays for passwords people choose.
import { randomInt, timingSafeEqual } from 'node:crypto';
import type { Grant } from '../../store/types.js';
import { sha256Hex } from '../../util/crypto.js';
import type { CoreDeps } from '../context.js';
import { newGrantId } from '../tokens/tokens.js';
import { recordSecurityEvent } from './security-events.js';

export const APP_PASSWORD_SCOPES = ['xmpp:client:normal', 'xmpp:account:read', 'xmpp:account:write'] as const;
export type AppPasswordScope = (typeof APP_PASSWORD_SCOPES)[number];
export const DEFAULT_APP_PASSWORD_SCOPE: AppPasswordScope = 'xmpp:client:normal';

const GROUPS = 5;
const GROUP_LETTERS = 4;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const SHAPE = new RegExp(`^[a-z]{${GROUPS * GROUP_LETTERS}}$`);
export const MAX_APP_PASSWORDS = 50;
export const MAX_LABEL = 64;
/** Client ids of app-password grants: never a registered client's (those are JWTs, URLs or config ids without a colon prefix like this). */
export const APP_PASSWORD_CLIENT_PREFIX = 'app-password:';

export class AppPasswordError extends Error {
  override name = 'AppPasswordError';
  constructor(
    message: string,
    readonly code: 'bad-label' | 'bad-scope' | 'too-many' | 'missing',
  ) {
    super(message);
  }
}

export const isAppPassword = (g: Grant): boolean => g.kind === 'app_password';

/** The secret as typed, with spaces, dashes and capitals (phone keyboards) forgiven; null when it cannot be one. */
export function normaliseAppPassword(input: string): string | null {
  if (typeof input !== 'string' || input.length > 64) return null;
  const s = input.replace(/[\s-]/g, '').toLowerCase();
  return SHAPE.test(s) ? s : null;
}

function newSecret(): { display: string; digest: string } {
  let letters = '';
  for (let i = 0; i < GROUPS * GROUP_LETTERS; i++) letters += LETTERS[randomInt(LETTERS.length)];
  const groups = letters.match(new RegExp(`.{${GROUP_LETTERS}}`, 'g'))!;
  return { display: groups.join(' '), digest: sha256Hex(letters) };
}

/** A label fit to show and store: trimmed, 1-64 characters, no control characters. */
function cleanLabel(raw: unknown): string {
  const label = typeof raw === 'string' ? raw.normalize('NFC').trim().replace(/\s+/g, ' ') : '';
  if (!label) throw new AppPasswordError('give the app password a name, such as "Dino on laptop"', 'bad-label');
  if ([...label].length > MAX_LABEL) throw new AppPasswordError(`the name may have at most ${MAX_LABEL} characters`, 'bad-label');
  if (/[\p{Cc}\p{Cf}]/u.test(label)) throw new AppPasswordError('the name must not contain control characters', 'bad-label');
  return label;
}

/**
 * Creates an app password for `jid`. Returns the secret (the only time it
 * exists outside the user's hands) and the grant that stands for it.
 */
export async function createAppPassword(
  deps: Pick<CoreDeps, 'store' | 'log'>,
  jid: string,
  opts: { label: unknown; scope?: unknown },
): Promise<{ password: string; grant: Grant }> {
  const label = cleanLabel(opts.label);
  const scope = opts.scope === undefined || opts.scope === '' ? DEFAULT_APP_PASSWORD_SCOPE : opts.scope;
  if (!APP_PASSWORD_SCOPES.includes(scope as AppPasswordScope)) {
    throw new AppPasswordError(`scope must be one of ${APP_PASSWORD_SCOPES.join(', ')}`, 'bad-scope');
  }
  const account = await deps.store.getAccount(jid);
  if (!account || account.disabled) throw new AppPasswordError('no such account', 'missing');
  const existing = (await deps.store.listGrants(jid)).filter(isAppPassword);
  if (existing.length >= MAX_APP_PASSWORDS) {
    throw new AppPasswordError(`an account may have at most ${MAX_APP_PASSWORDS} app passwords; revoke one first`, 'too-many');
  }
  const { display, digest } = newSecret();
  const now = Date.now();
  const id = newGrantId();
  const grant: Grant = {
    id,
    jid,
    clientId: `${APP_PASSWORD_CLIENT_PREFIX}${id}`,
    clientName: label,
    scope: [scope as string],
    createdAt: now,
    lastUsedAt: now,
    kind: 'app_password',
    label,
    secretDigest: digest,
  };
  await deps.store.saveGrant(grant);
  deps.log.info({ jid, grant: id, scope }, 'app password created');
  void recordSecurityEvent(deps, jid, { kind: 'app-password-created', label, scope: grant.scope });
  return { password: display, grant };
}

/**
 * The app-password grant of `jid` matching `secret`, or null. The account's
 * grant index is the lookup (a handful of entries); each digest comparison is
 * constant-time and all of them run, so timing tells nothing about which matched.
 */
export async function findAppPassword(deps: Pick<CoreDeps, 'store'>, jid: string, secret: string): Promise<Grant | null> {
  const normalised = normaliseAppPassword(secret);
  if (!normalised) return null;
  const digest = Buffer.from(sha256Hex(normalised), 'hex');
  let found: Grant | null = null;
  for (const g of await deps.store.listGrants(jid)) {
    if (!isAppPassword(g) || !g.secretDigest || g.secretDigest.length !== 64) continue;
    if (timingSafeEqual(Buffer.from(g.secretDigest, 'hex'), digest) && !found) found = g;
  }
  return found;
}
