// The two halves of an upstream sign-in: send the browser to the provider,
// then turn the provider's answer into one of our accounts. Plain data in and
// out; the HTTP route owns cookies and pages.
import * as oidc from 'openid-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { randomToken, sha256Hex } from '../util/crypto.js';
import type { Claims } from './claims.js';
import { UpstreamError } from './errors.js';
import { completeAmr } from '../accounts/second-factor/assurance.js';
import { accountFor, type Provisioned } from './provision.js';
import type { UpstreamProviders } from './providers.js';

export interface SignInDeps {
  store: Store;
  log: Logger;
  config: Pick<Config, 'admins' | 'upstream'>;
  providers: UpstreamProviders;
  stateTtl: number;
  now(): number;
}

/**
 * Starts a sign-in at provider `id`: fresh state, nonce and PKCE verifier,
 * kept in the store (single use, `stateTtl`), bound to the browser by the
 * digest of `browserBinding`; `returnTo` is a page of ours the caller checked
 * (src/http/return-to.ts). Returns the provider's authorization URL.
 */
export async function startSignIn(deps: SignInDeps, id: string, returnTo: string, browserBinding: string): Promise<URL> {
  const provider = await deps.providers.get(id);
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  await deps.store.saveUpstreamState(
    state,
    { provider: id, nonce, codeVerifier, returnTo, browser: sha256Hex(browserBinding), createdAt: Date.now() },
    deps.stateTtl,
  );
  return oidc.buildAuthorizationUrl(provider.client, {
    redirect_uri: provider.redirectUri,
    scope: provider.config.scope,
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    // Issue 26: ask the provider for the assurance we need (e.g. its multi-factor acr).
    ...(provider.config.acr_values ? { acr_values: provider.config.acr_values } : {}),
  });
}

export interface SignedIn extends Provisioned {
  provider: string;
  returnTo: string;
  amr: string[];
}

/**
 * Finishes a sign-in from the provider's redirect (`query`: its parameters).
 * The state must be one we issued to this browser, unused; openid-client then
 * redeems the code and validates the ID token (signature, iss, aud, exp,
 * nonce) before a single claim is believed.
 */
export async function finishSignIn(deps: SignInDeps, id: string, query: URLSearchParams, browserBinding: string | null): Promise<SignedIn> {
  const stateParam = query.get('state');
  if (!stateParam || stateParam.length > 512) throw new UpstreamError('state', 'the callback carries no state');
  const saved = await deps.store.takeUpstreamState(stateParam);
  if (!saved || saved.provider !== id) throw new UpstreamError('state', 'unknown, used or expired state');
  if (!browserBinding || sha256Hex(browserBinding) !== saved.browser) {
    throw new UpstreamError('state', 'the sign-in was started in another browser');
  }
  const provider = await deps.providers.get(id);
  if (query.has('error')) {
    throw new UpstreamError('denied', `the provider answered ${String(query.get('error')).slice(0, 64)}`);
  }

  let claims: Claims & { iss: string; sub: string };
  try {
    const callback = new URL(provider.redirectUri);
    callback.search = query.toString();
    const tokens = await oidc.authorizationCodeGrant(provider.client, callback, {
      pkceCodeVerifier: saved.codeVerifier,
      expectedState: stateParam,
      expectedNonce: saved.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims()!;
    claims = { ...idClaims };
    // Many providers put profile and group claims only in userinfo (OIDC Core 5.4).
    const wanted = [provider.config.username_claim, ...Object.keys(provider.config.allow ?? {})];
    if (wanted.some((c) => claims[c] === undefined) && provider.client.serverMetadata().userinfo_endpoint) {
      const info = await oidc.fetchUserInfo(provider.client, tokens.access_token, idClaims.sub);
      claims = { ...info, ...idClaims };
    }
  } catch (err) {
    if (err instanceof UpstreamError) throw err;
    const e = err as { code?: string; error?: string; message?: string };
    throw new UpstreamError('failed', `${e.code ?? e.error ?? 'error'}: ${String(e.message).slice(0, 200)}`);
  }
  const now = deps.now();
  const provisioned = await accountFor(deps, provider.config, claims, now);
  return { ...provisioned, provider: id, returnTo: saved.returnTo, amr: upstreamAmr(claims, provider.config.mfa_acr_values) };
}

/**
 * The provider's amr carried into ours (RFC 8176 names, at most 8), with
 * `mfa` added when its acr is one the operator listed as multi-factor
 * (mfa_acr_values) or its amr shows two kinds of factor. The provider's acr
 * value itself means something only at that provider; ours is derived from
 * the amr (assurance.ts).
 */
export function upstreamAmr(claims: Record<string, unknown>, mfaAcrValues: readonly string[]): string[] {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((a): a is string => typeof a === 'string' && /^[a-z]{1,16}$/.test(a)).slice(0, 8) : [];
  if (typeof claims.acr === 'string' && mfaAcrValues.includes(claims.acr) && !amr.includes('mfa')) amr.push('mfa');
  return completeAmr(amr);
}

/** A fresh browser binding (the route keeps it in a cookie). */
export const newBrowserBinding = (): string => randomToken(24);
