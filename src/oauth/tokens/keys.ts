import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  type CryptoKey,
  type JWK,
} from 'jose';
import type { Logger } from '../../log.js';
import type { SigningKey, Store } from '../../store/types.js';
import { StartupError } from '../../util/startup-error.js';

export type SigningAlg = SigningKey['alg'];

export interface KeyManagerOptions {
  algorithm: SigningAlg;
  keyFile?: string;
  /** Longest lifetime of anything we sign: a retired key stays published this long. */
  maxTokenTtl: number;
  /** How often the key set is re-read from the store (other instances may rotate). */
  refreshMs?: number;
  /** Public JWKs (with kid and alg) that verify but never sign: the server's file key, for the extauth bridge. */
  trustedPublicKeys?: Record<string, unknown>[];
}

interface LoadedKey {
  record: SigningKey;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A key that verifies, with the one algorithm it may be used with. */
export interface VerificationKey {
  alg: SigningAlg;
  key: KeyObject;
}

const UNKNOWN_KID_RELOAD_MS = 5000;

/** Builds a new key record with kid = RFC 7638 thumbprint of the public key. */
export async function generateSigningKey(alg: SigningAlg, activatesAt = Date.now()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return toRecord(alg, await exportJWK(privateKey), await exportJWK(publicKey), activatesAt);
}

async function toRecord(alg: SigningAlg, privateJwk: JWK, publicJwk: JWK, activatesAt: number): Promise<SigningKey> {
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    alg,
    privateJwk: { ...privateJwk, kid, alg },
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    createdAt: Date.now(),
    activatesAt,
  };
}

const GENERATE_HINT = 'write one with `xmpp-oauth keys generate --out FILE`, or remove signing_key_file to keep the keys in the store';

/**
 * Reads a PKCS#8 PEM or a private JWK from a file. Fails with a StartupError
 * naming the file, what is wrong with it and how to fix it.
 */
export async function signingKeyFromFile(file: string, alg: SigningAlg): Promise<SigningKey> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (code ?? String(err));
    const fix = code === 'EACCES' || code === 'EPERM' ? `make it readable by the user running xmpp-oauth (uid ${process.getuid?.() ?? '?'}), e.g. chown or chmod 0640 with its group` : GENERATE_HINT;
    throw new StartupError(`cannot read signing_key_file ${file} (${why})`, fix, { cause: err });
  }
  let privateKey: CryptoKey;
  try {
    privateKey = text.startsWith('{')
      ? ((await importJWK(JSON.parse(text) as JWK, alg, { extractable: true })) as CryptoKey)
      : await importPKCS8(text, alg, { extractable: true });
  } catch (err) {
    throw new StartupError(
      `signing_key_file ${file} is not a ${alg} private key in PKCS#8 PEM or JWK form (${(err as Error).message})`,
      `set signing_algorithm to the key's algorithm, or ${GENERATE_HINT}`,
      { cause: err },
    );
  }
  const jwk = await exportJWK(privateKey);
  const { d: _d, ...pub } = jwk;
  return toRecord(alg, jwk, pub, 0);
}

/**
 * The server's signing keys: which one signs now, which are published in JWKS.
 * Rotation publishes a new key before it signs and keeps retired keys
 * published until everything they signed has expired.
 */
export class KeyManager {
  private keys: LoadedKey[] = [];
  private timer?: NodeJS.Timeout;
  private fileKey?: LoadedKey;
  private trusted: Array<{ kid: string; alg: SigningAlg; key: KeyObject }> = [];

  constructor(
    private readonly store: Store,
    private readonly opts: KeyManagerOptions,
    private readonly log: Logger,
  ) {}

  async init(): Promise<void> {
    for (const jwk of this.opts.trustedPublicKeys ?? []) {
      const { kid, alg } = jwk;
      if (typeof kid !== 'string' || (alg !== 'ES256' && alg !== 'EdDSA')) continue;
      this.trusted.push({ kid, alg, key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }) });
    }
    if (this.opts.keyFile) {
      this.fileKey = await load(await signingKeyFromFile(this.opts.keyFile, this.opts.algorithm));
      this.log.info({ kid: this.fileKey.record.kid }, 'signing key loaded from file');
    }
    await this.reload();
    if (!this.fileKey && this.keys.length === 0) {
      const records = await this.store.initSigningKeys(await generateSigningKey(this.opts.algorithm, 0));
      this.keys = await Promise.all(records.map(load));
      this.log.info({ kid: this.keys[0]?.record.kid }, 'signing key generated');
    }
    const every = this.opts.refreshMs ?? 60_000;
    this.timer = setInterval(() => {
      this.reload().catch((err: unknown) => this.log.warn({ err: String(err) }, 'could not refresh signing keys'));
    }, every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private lastUnknownKidReload = 0;
  private unknownKidReload?: Promise<void>;

  async reload(): Promise<void> {
    const now = Date.now();
    const records = await this.store.listSigningKeys();
    const live = records.filter((k) => !k.expiresAt || k.expiresAt > now);
    const known = new Map(this.keys.map((k) => [k.record.kid, k]));
    this.keys = await Promise.all(
      live.map(async (r) => {
        const have = known.get(r.kid);
        return have && sameSchedule(have.record, r) ? have : load(r);
      }),
    );
  }

  /** The key that signs now: the newest active, unretired key. */
  current(): { kid: string; alg: SigningAlg; key: KeyObject } {
    if (this.fileKey) return { kid: this.fileKey.record.kid, alg: this.fileKey.record.alg, key: this.fileKey.privateKey };
    const now = Date.now();
    const usable = this.keys
      .filter((k) => k.record.activatesAt <= now && (!k.record.retiredAt || k.record.retiredAt > now))
      .sort((a, b) => b.record.activatesAt - a.record.activatesAt);
    const pick = usable[0] ?? this.keys.sort((a, b) => b.record.activatesAt - a.record.activatesAt)[0];
    if (!pick) throw new Error('no signing key available');
    return { kid: pick.record.kid, alg: pick.record.alg, key: pick.privateKey };
  }

  /** Public key for verification, by kid. */
  publicKey(kid: string): VerificationKey | undefined {
    const found = this.fileKey?.record.kid === kid ? this.fileKey : this.keys.find((k) => k.record.kid === kid);
    if (found) return { alg: found.record.alg, key: found.publicKey };
    const trusted = this.trusted.find((k) => k.kid === kid);
    return trusted && { alg: trusted.alg, key: trusted.key };
  }

  /**
   * Like publicKey, but an unknown kid may be a key another instance published
   * moments ago (`keys rotate --delay 0`): re-read the store, at most once per
   * UNKNOWN_KID_RELOAD_MS so forged kids cannot turn into a store load.
   */
  async verificationKey(kid: string): Promise<VerificationKey | undefined> {
    const known = this.publicKey(kid);
    if (known || this.fileKey) return known;
    // Requests arriving while a re-read runs wait for it rather than fail.
    if (!this.unknownKidReload) {
      if (Date.now() - this.lastUnknownKidReload < UNKNOWN_KID_RELOAD_MS) return undefined;
      this.lastUnknownKidReload = Date.now();
      this.unknownKidReload = this.reload()
        .catch((err: unknown) => this.log.info({ err: String(err) }, 'could not re-read signing keys for an unknown kid'))
        .finally(() => (this.unknownKidReload = undefined));
    }
    await this.unknownKidReload;
    return this.publicKey(kid);
  }

  /** Public JWK of the key from signing_key_file, if any: other processes cannot read it from the store. */
  fileKeyPublicJwks(): Record<string, unknown>[] {
    return this.fileKey ? [{ ...this.fileKey.record.publicJwk }] : [];
  }

  /** The JWKS document: public halves only. */
  jwks(): { keys: Record<string, unknown>[] } {
    const all = this.fileKey ? [this.fileKey, ...this.keys] : this.keys;
    return { keys: all.map((k) => ({ ...k.record.publicJwk })) };
  }

  /** jwks() serialised, recomputed only when the key set changes (a reload replaces the array). */
  jwksJson(): string {
    if (this.jwksCache?.of !== this.keys) this.jwksCache = { of: this.keys, body: JSON.stringify(this.jwks()) };
    return this.jwksCache.body;
  }

  private jwksCache?: { of: LoadedKey[]; body: string };

  algorithms(): SigningAlg[] {
    return [...new Set([this.opts.algorithm, ...this.keys.map((k) => k.record.alg)])];
  }
}

/**
 * Rotation as a store operation (also used by `xmpp-oauth keys rotate`): the
 * new key is published now and signs after `delaySeconds`; the current keys
 * retire then and stay in JWKS until tokens signed with them have expired.
 */
export async function rotateKeys(
  store: Store,
  alg: SigningAlg,
  delaySeconds: number,
  maxTokenTtl: number,
): Promise<SigningKey> {
  const now = Date.now();
  const activatesAt = now + delaySeconds * 1000;
  const next = await generateSigningKey(alg, activatesAt);
  await store.addSigningKey(next);
  for (const k of await store.listSigningKeys()) {
    if (k.kid === next.kid) continue;
    if (k.expiresAt && k.expiresAt <= now) {
      await store.removeSigningKey(k.kid);
      continue;
    }
    if (!k.retiredAt || k.retiredAt > activatesAt) {
      await store.updateSigningKey({ ...k, retiredAt: activatesAt, expiresAt: activatesAt + (maxTokenTtl + 300) * 1000 });
    }
  }
  return next;
}

function sameSchedule(a: SigningKey, b: SigningKey): boolean {
  return a.activatesAt === b.activatesAt && a.retiredAt === b.retiredAt && a.expiresAt === b.expiresAt;
}

// node:crypto key objects: the hot-path signing in jws.ts uses them directly.
async function load(record: SigningKey): Promise<LoadedKey> {
  return {
    record,
    privateKey: createPrivateKey({ key: record.privateJwk as JsonWebKey, format: 'jwk' }),
    publicKey: createPublicKey({ key: record.publicJwk as JsonWebKey, format: 'jwk' }),
  };
}
