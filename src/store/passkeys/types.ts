/**
 * Passkeys (WebAuthn credentials) of an account, and the short-lived
 * challenges of their ceremonies. The store keeps records and does the
 * atomic steps (add under a bound, counter compare-and-set, single-use
 * challenges); what a record means is decided in src/accounts/passkeys/.
 */

/** One registered passkey. Nothing secret: the public key, and what the authenticator reported. */
export interface PasskeyRecord {
  /** The credential id (base64url), as the authenticator made it. */
  id: string;
  jid: string;
  /** COSE public key, base64url. */
  publicKey: string;
  /** The signature counter of the latest accepted use (0: the authenticator keeps none). */
  counter: number;
  /** Transports the browser reported at registration (hints for the next ceremony). */
  transports?: string[];
  /** The user's name for it. */
  name: string;
  /** 'singleDevice' or 'multiDevice' (synced), as the backup flags said. */
  deviceType?: string;
  backedUp?: boolean;
  /** The authenticator model's AAGUID, when it gave one. */
  aaguid?: string;
  /** Unix ms. */
  createdAt: number;
  lastUsedAt?: number;
  /**
   * The account's createdAt when the passkey was registered: a passkey of a
   * removed account never signs in to a later account of the same address.
   */
  accountCreatedAt: number;
}

export type AddPasskeyResult = 'added' | 'exists' | 'limit';

/** One ceremony's challenge, taken once. */
export interface PasskeyChallenge {
  challenge: string;
  purpose: 'register' | 'sign-in' | 'second-factor';
  /** The account a registration or second-factor ceremony is for. */
  jid?: string;
  /** What the ceremony is bound to besides its cookie (e.g. the login session id). */
  binding?: string;
  /** Unix ms. */
  createdAt: number;
}

export interface PasskeyStore {
  /** The account's WebAuthn user handle (base64url), made from `fresh` on first use. */
  userHandle(jid: string, fresh: string): Promise<string>;
  /** Adds a passkey unless its id is known or the account holds `max` already. */
  add(record: PasskeyRecord, max: number): Promise<AddPasskeyResult>;
  list(jid: string): Promise<PasskeyRecord[]>;
  /** The passkey with credential id `id`, whoever owns it. */
  find(id: string): Promise<PasskeyRecord | null>;
  rename(jid: string, id: string, name: string): Promise<boolean>;
  remove(jid: string, id: string): Promise<boolean>;
  /** Removes every passkey of the account and its user handle. */
  removeAll(jid: string): Promise<void>;
  /**
   * Records a use: the counter moves from `expected` to `next` only if it
   * still is `expected` (two uses racing with one counter value: one wins).
   */
  recordUse(jid: string, id: string, expected: number, next: number, at: number, backedUp?: boolean): Promise<boolean>;
  saveChallenge(id: string, challenge: PasskeyChallenge, ttlMs: number): Promise<void>;
  /** The challenge, deleted in the same step: a second take finds nothing. */
  takeChallenge(id: string): Promise<PasskeyChallenge | null>;
}

/** Reads a stored record back, refusing anything malformed. */
export function decodePasskey(raw: unknown): PasskeyRecord | null {
  if (!raw || typeof raw !== 'object') return null;
  const o = raw as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const id = str(o.id);
  const jid = str(o.jid);
  const publicKey = str(o.publicKey);
  const counter = num(o.counter);
  const createdAt = num(o.createdAt);
  const accountCreatedAt = num(o.accountCreatedAt);
  if (!id || !jid || !publicKey || counter === undefined || createdAt === undefined || accountCreatedAt === undefined) return null;
  const record: PasskeyRecord = {
    id,
    jid,
    publicKey,
    counter,
    name: str(o.name) ?? '',
    transports: Array.isArray(o.transports) ? o.transports.filter((t): t is string => typeof t === 'string') : undefined,
    deviceType: str(o.deviceType),
    backedUp: typeof o.backedUp === 'boolean' ? o.backedUp : undefined,
    aaguid: str(o.aaguid),
    createdAt,
    lastUsedAt: num(o.lastUsedAt),
    accountCreatedAt,
  };
  // Absent stays absent (the record reads back as it was written).
  for (const [k, v] of Object.entries(record)) if (v === undefined) delete (record as unknown as Record<string, unknown>)[k];
  return record;
}

export function decodeChallenge(raw: unknown): PasskeyChallenge | null {
  if (!raw || typeof raw !== 'object') return null;
  const o = raw as Record<string, unknown>;
  if (typeof o.challenge !== 'string' || !['register', 'sign-in', 'second-factor'].includes(o.purpose as string)) return null;
  return {
    challenge: o.challenge,
    purpose: o.purpose as PasskeyChallenge['purpose'],
    jid: typeof o.jid === 'string' ? o.jid : undefined,
    binding: typeof o.binding === 'string' ? o.binding : undefined,
    createdAt: typeof o.createdAt === 'number' ? o.createdAt : 0,
  };
}
