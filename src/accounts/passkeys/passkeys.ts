import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Logger } from '../../log.js';
import type { PasskeyChallenge, PasskeyRecord, PasskeyStore } from '../../store/passkeys/types.js';
import type { Account } from '../../store/types.js';
import { randomToken, safeEqual } from '../../util/crypto.js';
import type { RelyingParty } from './relying-party.js';

/** Why a ceremony was refused; `message` is safe to show the user. */
export class PasskeyError extends Error {
  override name = 'PasskeyError';
  constructor(
    message: string,
    readonly code: 'expired' | 'malformed' | 'unknown' | 'refused' | 'cloned' | 'limit' | 'exists' | 'missing' | 'bad-name',
  ) {
    super(message);
  }
}

export interface PasskeyOptions {
  /** How long a ceremony's challenge may wait for the browser's answer. */
  challengeTtlMs: number;
  /** Passkeys an account may hold. */
  maxPerAccount: number;
}

export const PASSKEY_DEFAULTS: PasskeyOptions = { challengeTtlMs: 180_000, maxPerAccount: 20 };

/** A started ceremony: the id the browser must bring back (in a cookie) and the options for navigator.credentials. */
export interface Ceremony<O> {
  ceremony: string;
  options: O;
}

export interface PasskeySignIn {
  jid: string;
  /** The account epoch read with the check, to bind the login session to. */
  epoch: string;
  passkey: PasskeyRecord;
  /** The authenticator verified the user (PIN, biometrics): the passkey alone is two factors. */
  userVerified: boolean;
}

const MAX_NAME = 64;
const MAX_CREDENTIAL_ID = 1023; // WebAuthn's bound on credential ids, in bytes; generous for base64url.

/**
 * Passkeys (WebAuthn) of accounts: registration, discoverable sign-in, and
 * use as a second factor. Every ceremony's challenge is kept in the store,
 * taken once, and bound to the caller's `binding` (the HTTP layer gives the
 * browser's ceremony cookie and login session). The library checks origin,
 * RP ID, signature, user verification and the signature counter; the store
 * moves the counter by compare-and-set, so a replayed or cloned assertion
 * fails even when two race.
 */
export class Passkeys {
  constructor(
    private readonly store: PasskeyStore,
    private readonly accounts: { getAccount(jid: string): Promise<Account | null> },
    private readonly rp: RelyingParty,
    private readonly log: Logger,
    private readonly opts: PasskeyOptions = PASSKEY_DEFAULTS,
  ) {}

  /** The account's passkeys, oldest first; records left by an earlier account of this JID are dropped. */
  async list(jid: string): Promise<PasskeyRecord[]> {
    const [account, records] = await Promise.all([this.accounts.getAccount(jid), this.store.list(jid)]);
    if (!account) return [];
    const mine = records.filter((r) => r.accountCreatedAt === account.createdAt);
    if (mine.length === records.length) return records;
    // All stale: the user handle goes too, so the new account gets its own.
    if (mine.length === 0) await this.store.removeAll(jid);
    else for (const r of records) if (r.accountCreatedAt !== account.createdAt) await this.store.remove(jid, r.id);
    return mine;
  }

  async startRegistration(jid: string, binding: string): Promise<Ceremony<PublicKeyCredentialCreationOptionsJSON>> {
    const existing = await this.list(jid);
    if (existing.length >= this.opts.maxPerAccount) throw this.limit();
    const handle = await this.store.userHandle(jid, randomToken(32));
    const options = await generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.id,
      userName: jid,
      userDisplayName: jid,
      userID: Buffer.from(handle, 'base64url'),
      attestationType: 'none',
      // The same authenticator twice would be one key under two names.
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports as AuthenticatorTransportFuture[] | undefined })),
      // Discoverable, so it signs in without a user name; verified, so it is two factors on its own.
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      timeout: this.opts.challengeTtlMs - 30_000,
    });
    const ceremony = await this.save({ challenge: options.challenge, purpose: 'register', jid, binding, createdAt: Date.now() });
    return { ceremony, options };
  }

  async finishRegistration(ceremony: string, jid: string, binding: string, response: unknown, name: unknown): Promise<PasskeyRecord> {
    const label = passkeyName(name);
    const challenge = await this.take(ceremony, 'register', binding);
    if (challenge.jid !== jid) throw new PasskeyError('this passkey ceremony was started for another account', 'expired');
    const account = await this.accounts.getAccount(jid);
    if (!account || account.disabled) throw new PasskeyError('the account is gone or disabled', 'missing');
    const body = credentialJson(response) as unknown as RegistrationResponseJSON;
    let info;
    try {
      const verified = await verifyRegistrationResponse({
        response: body,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        requireUserVerification: true,
      });
      if (!verified.verified) throw new Error('attestation not verified');
      info = verified.registrationInfo;
    } catch (err) {
      this.log.info({ jid, reason: (err as Error).message }, 'passkey registration refused');
      throw new PasskeyError('the browser’s answer could not be verified; try again', 'refused');
    }
    const now = Date.now();
    const record: PasskeyRecord = {
      id: info.credential.id,
      jid,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: info.credential.transports ?? body.response?.transports,
      name: label || `Passkey ${new Date(now).toISOString().slice(0, 10)}`,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
      createdAt: now,
      accountCreatedAt: account.createdAt,
    };
    const added = await this.store.add(record, this.opts.maxPerAccount);
    if (added === 'limit') throw this.limit();
    if (added === 'exists') {
      this.log.info({ jid }, 'passkey registration refused: credential id already registered');
      throw new PasskeyError('this passkey is registered already', 'exists');
    }
    this.log.info({ jid, passkey: shortId(record.id), deviceType: record.deviceType }, 'passkey registered');
    return record;
  }

  /**
   * Starts a sign-in. Without `jid`: any discoverable passkey of this site
   * (the browser lists them), user verification required. With `jid`: the
   * second factor after that account's password, its own passkeys only.
   */
  async startSignIn(binding: string, jid?: string): Promise<Ceremony<PublicKeyCredentialRequestOptionsJSON>> {
    const allow = jid ? await this.list(jid) : [];
    if (jid && allow.length === 0) throw new PasskeyError('this account has no passkey', 'unknown');
    const options = await generateAuthenticationOptions({
      rpID: this.rp.id,
      userVerification: jid ? 'preferred' : 'required',
      allowCredentials: allow.map((p) => ({ id: p.id, transports: p.transports as AuthenticatorTransportFuture[] | undefined })),
      timeout: this.opts.challengeTtlMs - 30_000,
    });
    const ceremony = await this.save({ challenge: options.challenge, purpose: jid ? 'second-factor' : 'sign-in', jid, binding, createdAt: Date.now() });
    return { ceremony, options };
  }

  async finishSignIn(ceremony: string, binding: string, response: unknown, jid?: string): Promise<PasskeySignIn> {
    const challenge = await this.take(ceremony, jid ? 'second-factor' : 'sign-in', binding);
    if (jid && challenge.jid !== jid) throw new PasskeyError('this passkey ceremony was started for another account', 'expired');
    const body = credentialJson(response) as unknown as AuthenticationResponseJSON;
    const passkey = await this.store.find(body.id);
    const unknown = () => new PasskeyError('this passkey is not registered here (it may have been removed)', 'unknown');
    if (!passkey || (jid && passkey.jid !== jid)) {
      this.log.info({ passkey: shortId(body.id) }, 'passkey sign-in refused: unknown passkey');
      throw unknown();
    }
    const account = await this.accounts.getAccount(passkey.jid);
    if (!account || account.createdAt !== passkey.accountCreatedAt || account.disabled) {
      this.log.info({ jid: passkey.jid, passkey: shortId(passkey.id), reason: account?.disabled ? 'disabled' : 'account gone' }, 'passkey sign-in refused');
      throw unknown();
    }
    // A discoverable passkey names its account: it must be the one that registered it.
    const handle = body.response?.userHandle;
    if (!jid && (typeof handle !== 'string' || !safeEqual(handle, await this.store.userHandle(passkey.jid, randomToken(32))))) {
      this.log.info({ jid: passkey.jid, passkey: shortId(passkey.id) }, 'passkey sign-in refused: user handle does not match');
      throw new PasskeyError('the browser’s answer could not be verified; try again', 'refused');
    }
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response: body,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        credential: {
          id: passkey.id,
          publicKey: Buffer.from(passkey.publicKey, 'base64url'),
          counter: passkey.counter,
          transports: passkey.transports as AuthenticatorTransportFuture[] | undefined,
        },
        requireUserVerification: !jid,
      });
    } catch (err) {
      const message = (err as Error).message;
      if (/counter value/i.test(message)) throw this.cloned(passkey, message);
      this.log.info({ jid: passkey.jid, passkey: shortId(passkey.id), reason: message }, 'passkey sign-in refused');
      throw new PasskeyError('the browser’s answer could not be verified; try again', 'refused');
    }
    if (!verified.verified) {
      this.log.info({ jid: passkey.jid, passkey: shortId(passkey.id), reason: 'bad signature' }, 'passkey sign-in refused');
      throw new PasskeyError('the browser’s answer could not be verified; try again', 'refused');
    }
    const { newCounter, userVerified, credentialBackedUp } = verified.authenticationInfo;
    // Compare-and-set: a second use of the same counter value (a replay racing this one, or a clone) loses.
    if (!(await this.store.recordUse(passkey.jid, passkey.id, passkey.counter, newCounter, Date.now(), credentialBackedUp))) {
      throw this.cloned(passkey, 'counter moved meanwhile');
    }
    return { jid: passkey.jid, epoch: account.epoch ?? '', passkey: { ...passkey, counter: newCounter }, userVerified };
  }

  async rename(jid: string, id: string, name: unknown): Promise<boolean> {
    const label = passkeyName(name);
    if (!label) throw new PasskeyError('give the passkey a name', 'bad-name');
    return this.store.rename(jid, id, label);
  }

  /** The removed passkey, or null when the account has none of that id. */
  async remove(jid: string, id: string): Promise<PasskeyRecord | null> {
    const record = (await this.store.list(jid)).find((p) => p.id === id);
    if (!record || !(await this.store.remove(jid, id))) return null;
    this.log.info({ jid, passkey: shortId(id) }, 'passkey removed');
    return record;
  }

  private async save(challenge: PasskeyChallenge): Promise<string> {
    const id = randomToken(24);
    await this.store.saveChallenge(id, challenge, this.opts.challengeTtlMs);
    return id;
  }

  /** The ceremony's challenge, once: gone, expired, for another purpose or another browser all read as expired. */
  private async take(ceremony: string, purpose: PasskeyChallenge['purpose'], binding: string): Promise<PasskeyChallenge> {
    const challenge = ceremony ? await this.store.takeChallenge(ceremony) : null;
    if (!challenge || challenge.purpose !== purpose || !safeEqual(challenge.binding ?? '', binding)) {
      this.log.info({ purpose, reason: challenge ? 'another purpose or browser' : 'no such challenge (used, expired or never made)' }, 'passkey ceremony refused');
      throw new PasskeyError('this passkey request has expired or was used already; try again', 'expired');
    }
    return challenge;
  }

  private limit(): PasskeyError {
    return new PasskeyError(`an account holds at most ${this.opts.maxPerAccount} passkeys; remove one first`, 'limit');
  }

  /** A counter that did not move forward: a copy of the authenticator, or a replay (WebAuthn §6.1.1). */
  private cloned(passkey: PasskeyRecord, reason: string): PasskeyError {
    this.log.warn({ jid: passkey.jid, passkey: shortId(passkey.id), reason }, 'passkey sign-in refused: signature counter did not increase (cloned authenticator or replay)');
    return new PasskeyError('this passkey’s answer was refused: it looks replayed or copied', 'cloned');
  }
}

/**
 * Whether the account has a passkey of its own (not one left by an earlier
 * account of the same JID): the sign-in then offers it as a second factor.
 */
export async function hasPasskeys(store: { getAccount(jid: string): Promise<Account | null>; passkeys: PasskeyStore }, jid: string): Promise<boolean> {
  const [account, records] = await Promise.all([store.getAccount(jid), store.passkeys.list(jid)]);
  return account !== null && records.some((r) => r.accountCreatedAt === account.createdAt);
}

/** A name as the user typed it: trimmed, control characters out, bounded. */
export function passkeyName(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  // eslint-disable-next-line no-control-regex
  return raw.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_NAME);
}

/** The browser's credential JSON, in the shape the library reads; anything else is refused before it. */
function credentialJson(raw: unknown): Record<string, unknown> & { id: string; response?: Record<string, unknown> } {
  const o = raw as Record<string, unknown> | null;
  if (
    !o ||
    typeof o !== 'object' ||
    typeof o.id !== 'string' ||
    !/^[A-Za-z0-9_-]+$/.test(o.id) ||
    o.id.length > MAX_CREDENTIAL_ID * 2 ||
    typeof o.response !== 'object' ||
    o.response === null
  ) {
    throw new PasskeyError('the browser’s answer is malformed', 'malformed');
  }
  return o as Record<string, unknown> & { id: string; response: Record<string, unknown> };
}

/** Enough of a credential id to tell passkeys apart in a log line. */
const shortId = (id: string) => id.slice(0, 12);
