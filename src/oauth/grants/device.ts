import { randomInt } from 'node:crypto';
import type { DeviceGrant } from '../../store/types.js';
import { randomToken, sha256Hex } from '../../util/crypto.js';
import type { Client } from '../clients/clients.js';
import type { CoreDeps } from '../context.js';
import { OAuthError, invalidGrant, invalidRequest, invalidScope, unauthorizedClient } from '../errors.js';
import { issueTokens, type TokenResponse } from '../tokens/issue.js';
import { grantScope } from '../scopes.js';

// RFC 8628 6.1: 20 consonants, no vowels (no words), no look-alikes; 8 characters
// give 20^8 ≈ 2.6e10 codes, and guessing is throttled on top.
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE = new RegExp(`^[${USER_CODE_ALPHABET}]{8}$`);

export function newUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** What the user typed, normalised (case, dashes, spaces); null if it cannot be a code. */
export function normaliseUserCode(input: unknown): string | null {
  if (typeof input !== 'string' || input.length > 32) return null;
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  return USER_CODE.test(code) ? code : null;
}

export const formatUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

export interface DeviceAuthorizationResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** RFC 8628 3.1–3.2: the device asks for a code pair. */
export async function startDeviceAuthorization(
  deps: CoreDeps,
  client: Client,
  params: Record<string, string>,
): Promise<DeviceAuthorizationResponse> {
  const { config, store } = deps;
  if (!client.grantTypes.includes('device_code')) throw unauthorizedClient('this client is not registered for the device grant');
  const scope = grantScope(params.scope ?? client.scope.join(' '), client.scope);
  if (scope.length === 0) throw invalidScope('none of the requested scopes is available to this client');

  const now = Date.now();
  const id = randomToken(16);
  const deviceCode = `${id}.${randomToken(32)}`;
  const base: Omit<DeviceGrant, 'userCode'> = {
    id,
    clientId: client.id,
    scope,
    status: 'pending',
    interval: config.device_poll_interval,
    lastPollAt: 0,
    createdAt: now,
    expiresAt: now + config.device_code_ttl * 1000,
  };
  // A collision with a live code is astronomically rare; draw again if it happens.
  for (let attempt = 0; attempt < 5; attempt++) {
    const userCode = newUserCode();
    if (await store.createDevice({ ...base, userCode }, sha256Hex(deviceCode))) {
      const verificationUri = `${config.issuer}/oauth2/device`;
      return {
        device_code: deviceCode,
        user_code: formatUserCode(userCode),
        verification_uri: verificationUri,
        verification_uri_complete: `${verificationUri}?user_code=${formatUserCode(userCode)}`,
        expires_in: config.device_code_ttl,
        interval: config.device_poll_interval,
      };
    }
  }
  throw new OAuthError('temporarily_unavailable', 'could not allocate a user code; try again', 503);
}

/** RFC 8628 3.4–3.5: the device polls the token endpoint. */
export async function deviceCodeGrant(deps: CoreDeps, client: Client, params: Record<string, string>): Promise<TokenResponse> {
  const deviceCode = params.device_code;
  if (!deviceCode) throw invalidRequest('device_code is required');
  const m = /^([A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]{43}$/.exec(deviceCode);
  if (!m) throw invalidGrant('the device code is invalid');

  const result = await deps.store.pollDevice(m[1]!, sha256Hex(deviceCode), Date.now(), client.id);
  switch (result.status) {
    case 'wrong_client':
      // Answered without touching the grant: a poll by someone else must not end the user's approval.
      throw invalidGrant('the device code was issued to another client');
    case 'pending':
      throw new OAuthError('authorization_pending', 'the user has not yet approved this device');
    case 'slow_down':
      throw new OAuthError('slow_down', `polling too fast; wait at least ${result.interval} seconds between requests`);
    case 'denied':
      throw new OAuthError('access_denied', 'the user denied the request');
    case 'missing':
      throw new OAuthError('expired_token', 'the device code has expired or was already used; start again');
    case 'approved':
      break;
  }
  const device = result.device;
  if (device.clientId !== client.id) throw invalidGrant('the device code was issued to another client');
  const grant = device.grantId ? await grantOfApproval(deps, device.grantId) : null;
  if (!grant) throw invalidGrant('the grant behind this device code has been revoked');
  return issueTokens(deps, {
    grant,
    client,
    scope: device.scope,
    // How the approving browser signed in (a record from before amr was kept: a password).
    authTime: device.authTime,
    amr: device.amr ?? ['pwd'],
    mayIssueRefresh: true,
    withIdToken: true,
  });
}

/**
 * The grant an approval names. The consent page decides the device first and
 * records the grant right after (so a failed decision never widens a grant);
 * a poll landing between the two steps waits for the second, briefly.
 */
async function grantOfApproval(deps: CoreDeps, grantId: string) {
  for (let attempt = 0; ; attempt++) {
    const grant = await deps.store.getGrant(grantId);
    if (grant || attempt === 3) return grant;
    await new Promise((r) => setTimeout(r, 100));
  }
}
