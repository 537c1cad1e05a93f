import type { Request } from 'express';
import { PasskeyError, type Passkeys } from '../accounts/passkeys/passkeys.js';
import { relyingPartyFor } from '../accounts/passkeys/relying-party.js';
import type { Config } from '../config/schema.js';
import type { PasskeyRecord } from '../store/passkeys/types.js';
import { sha256Hex } from '../util/crypto.js';

// What the pages need of passkeys (issue 26 #1; the domain object is built by
// createCore and handed in): the /account section's data, and whether the login page offers
// "Sign in with a passkey". The ceremonies are in routes/passkeys.ts.

/** Whether the login page offers a passkey sign-in: a domain-name issuer, and local sign-in on. */
export function passkeySignInOffered(config: Config): boolean {
  return config.local_login && relyingPartyFor(config.issuer, config.site_name) !== null;
}

/** The /account passkeys section (partial passkeys-manage), or undefined when this server has no passkeys. */
export async function passkeySection(passkeys: Passkeys | null | undefined, jid: string): Promise<{ items: ReturnType<typeof passkeyView>[] } | undefined> {
  return passkeys ? { items: (await passkeys.list(jid)).map(passkeyView) } : undefined;
}

function passkeyView(p: PasskeyRecord) {
  const when = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return {
    id: p.id,
    name: p.name,
    createdAt: when(p.createdAt),
    lastUsed: p.lastUsedAt ? when(p.lastUsedAt) : undefined,
    synced: p.deviceType === 'multiDevice',
  };
}

/**
 * What a second-factor ceremony is bound to: the pending sign-in (its account
 * and epoch, from this browser's sealed pending cookie) and the page's CSRF
 * token (this browser's). The options endpoint and the step's form post
 * both compute it; a ceremony started elsewhere does not match.
 */
export function secondFactorBinding(pending: { jid: string; epoch: string }, csrf: unknown): string {
  return sha256Hex(`second-factor\u0000${pending.jid}\u0000${pending.epoch}\u0000${typeof csrf === 'string' ? csrf : ''}`);
}

/**
 * The passkey choice of the second step, posted with the step's form
 * (`ceremony` and the browser's answer as JSON in `passkey`): `hwk` when the
 * account's own passkey answered this browser's challenge.
 */
export async function passkeySecondFactor(
  passkeys: Passkeys | null | undefined,
  req: Request,
  pending: { jid: string; epoch: string },
): Promise<{ ok: true; amr: string } | { ok: false; reason: 'invalid' }> {
  const body = req.body as Record<string, unknown>;
  if (!passkeys || typeof body.passkey !== 'string' || typeof body.ceremony !== 'string') return { ok: false, reason: 'invalid' };
  let response: unknown;
  try {
    response = JSON.parse(body.passkey);
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  try {
    await passkeys.finishSignIn(body.ceremony, secondFactorBinding(pending, body.csrf), response, pending.jid);
    return { ok: true, amr: 'hwk' };
  } catch (err) {
    if (err instanceof PasskeyError) return { ok: false, reason: 'invalid' };
    throw err;
  }
}
