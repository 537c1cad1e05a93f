import type { Config } from '../../config/schema.js';
import type { Client, ClientRegistry } from '../clients/clients.js';
import { describable } from '../errors.js';
import { challengeLooksValid } from './pkce.js';
import { matchRedirectUri, withParams } from './redirect.js';
import { grantScope } from '../scopes.js';

export type RawParams = Record<string, unknown>;

export interface AuthorizationRequest {
  client: Client;
  redirectUri: string;
  /** The request named redirect_uri itself (rather than relying on the one registered URI). */
  redirectUriSent: boolean;
  responseType: 'code';
  scope: string[];
  state?: string;
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  prompt: Set<string>;
  maxAge?: number;
  loginHint?: string;
  /** The parameters as received, to carry the request through login and consent. */
  params: Record<string, string>;
}

/**
 * The request cannot be trusted to send the user anywhere (unknown client,
 * unregistered redirect URI): show an error page, never redirect.
 */
export class UntrustedRequestError extends Error {
  override name = 'UntrustedRequestError';
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

/** An error to report to the client at its (verified) redirect URI. */
export class RedirectError extends Error {
  override name = 'RedirectError';
  constructor(
    readonly error: string,
    readonly description: string,
    readonly redirectUri: string,
    readonly state: string | undefined,
  ) {
    super(description);
  }

  location(issuer: string): string {
    return withParams(this.redirectUri, {
      error: this.error,
      error_description: describable(this.description),
      state: this.state,
      iss: issuer,
    });
  }
}

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
const MAX_PARAM_LENGTH = 4096;

/**
 * Validates an authorization request (RFC 6749 4.1.1, RFC 7636, OIDC Core
 * 3.1.2.1) as a pipeline of checks; the order matters, because nothing may
 * be redirected before the client and redirect URI are known to be good.
 */
export async function parseAuthorizationRequest(
  raw: RawParams,
  clients: ClientRegistry,
  config: Config,
): Promise<AuthorizationRequest> {
  const { client, redirectUri, redirectUriSent } = await identifyClient(raw, clients);
  const state = typeof raw.state === 'string' ? raw.state : undefined;
  const fail = (error: string, description: string) => new RedirectError(error, description, redirectUri, state);

  const params = singleValued(raw, fail);
  if (params.request !== undefined) throw fail('request_not_supported', 'request objects are not supported');
  if (params.request_uri !== undefined) throw fail('request_uri_not_supported', 'request_uri is not supported');

  const responseType = params.response_type;
  if (!responseType) throw fail('invalid_request', 'response_type is required');
  if (responseType !== 'code' || !config.allowed_response_types.includes('code')) {
    throw fail('unsupported_response_type', `response_type ${JSON.stringify(responseType)} is not supported; use "code"`);
  }
  if (!client.grantTypes.includes('authorization_code') || !config.allowed_grant_types.includes('authorization_code')) {
    throw fail('unauthorized_client', 'this client may not use the authorization code grant');
  }
  if (params.response_mode !== undefined && params.response_mode !== 'query') {
    throw fail('invalid_request', 'only response_mode=query is supported');
  }

  const scope = grantScope(params.scope, client.scope);
  if (scope.length === 0) {
    throw fail('invalid_scope', params.scope ? 'none of the requested scopes is available to this client' : 'scope is required');
  }

  const pkce = checkPkce(params, client, config, fail);
  const prompt = checkPrompt(params.prompt, fail);

  let maxAge: number | undefined;
  if (params.max_age !== undefined) {
    if (!/^\d{1,10}$/.test(params.max_age)) throw fail('invalid_request', 'max_age must be a non-negative integer');
    maxAge = Number(params.max_age);
  }

  return {
    client,
    redirectUri,
    redirectUriSent,
    responseType: 'code',
    scope,
    state,
    nonce: params.nonce,
    ...pkce,
    prompt,
    maxAge,
    loginHint: params.login_hint,
    params,
  };
}

async function identifyClient(raw: RawParams, clients: ClientRegistry): Promise<{ client: Client; redirectUri: string; redirectUriSent: boolean }> {
  const clientId = raw.client_id;
  if (Array.isArray(clientId)) throw new UntrustedRequestError('invalid_request', 'client_id was given more than once');
  if (typeof clientId !== 'string' || clientId === '') throw new UntrustedRequestError('invalid_request', 'client_id is required');
  const client = clientId.length <= 8192 ? await clients.find(clientId) : null;
  if (!client) throw new UntrustedRequestError('invalid_client', 'unknown client_id: this application is not registered here');

  const given = raw.redirect_uri;
  if (Array.isArray(given)) throw new UntrustedRequestError('invalid_request', 'redirect_uri was given more than once');
  if (given === undefined || given === '') {
    // Omitting it is allowed only when there is exactly one to choose (RFC 6749 3.1.2.3).
    if (client.redirectUris.length === 1) return { client, redirectUri: client.redirectUris[0]!, redirectUriSent: false };
    throw new UntrustedRequestError('invalid_request', 'redirect_uri is required');
  }
  if (typeof given !== 'string' || !matchRedirectUri(client, given)) {
    throw new UntrustedRequestError('invalid_request', 'redirect_uri does not match any URI registered for this client');
  }
  return { client, redirectUri: given, redirectUriSent: true };
}

/** Every parameter at most once (RFC 6749 3.1), as a string, of sane length. */
function singleValued(raw: RawParams, fail: (e: string, d: string) => Error): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (Array.isArray(value)) throw fail('invalid_request', `parameter ${key} was given more than once`);
    if (typeof value !== 'string') throw fail('invalid_request', `parameter ${key} is malformed`);
    if (value.length > MAX_PARAM_LENGTH) throw fail('invalid_request', `parameter ${key} is too long`);
    out[key] = value;
  }
  return out;
}

function checkPkce(
  params: Record<string, string>,
  client: Client,
  config: Config,
  fail: (e: string, d: string) => Error,
): { codeChallenge?: string; codeChallengeMethod?: string } {
  const challenge = params.code_challenge;
  const required = config.require_code_challenge || client.public;
  if (!challenge) {
    if (required) throw fail('invalid_request', 'code_challenge is required (PKCE, method S256)');
    if (params.code_challenge_method) throw fail('invalid_request', 'code_challenge_method given without code_challenge');
    return {};
  }
  // RFC 7636 4.3: an absent method means "plain".
  const method = params.code_challenge_method ?? 'plain';
  const allowed = config.allowed_code_challenge_methods as string[];
  if (!allowed.includes(method)) {
    throw fail('invalid_request', `code_challenge_method ${method} is not allowed; use ${allowed.join(' or ')}`);
  }
  if (!challengeLooksValid(method, challenge)) throw fail('invalid_request', 'code_challenge is malformed');
  return { codeChallenge: challenge, codeChallengeMethod: method };
}

function checkPrompt(raw: string | undefined, fail: (e: string, d: string) => Error): Set<string> {
  const prompt = new Set((raw ?? '').split(' ').filter(Boolean));
  for (const p of prompt) if (!PROMPTS.has(p)) throw fail('invalid_request', `unknown prompt value ${JSON.stringify(p)}`);
  if (prompt.has('none') && prompt.size > 1) throw fail('invalid_request', 'prompt=none cannot be combined with other values');
  return prompt;
}
