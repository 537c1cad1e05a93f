import type { Client } from '../clients/clients.js';
import type { CoreDeps } from '../context.js';
import { invalidRequest, unauthorizedClient, unsupportedGrantType } from '../errors.js';
import { deviceCodeGrant } from './device.js';
import { authorizationCodeGrant } from './grant-types/authorization-code.js';
import { passwordGrant } from './grant-types/password.js';
import { refreshTokenGrant } from './grant-types/refresh-token.js';
import type { TokenResponse } from '../tokens/issue.js';

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

type GrantHandler = (deps: CoreDeps, client: Client, params: Record<string, string>, address?: string) => Promise<TokenResponse>;

/** grant_type on the wire → (name in allowed_grant_types, handler). */
const GRANTS = new Map<string, { name: string; handler: GrantHandler }>([
  ['authorization_code', { name: 'authorization_code', handler: authorizationCodeGrant }],
  ['refresh_token', { name: 'refresh_token', handler: refreshTokenGrant }],
  ['password', { name: 'password', handler: passwordGrant }],
  [DEVICE_GRANT_TYPE, { name: 'device_code', handler: deviceCodeGrant }],
]);

/** The token endpoint after client authentication: pick the grant, check it is enabled for server and client. */
export async function tokenRequest(
  deps: CoreDeps,
  client: Client,
  params: Record<string, string>,
  address?: string,
): Promise<TokenResponse> {
  const grantType = params.grant_type;
  const entry = grantType ? GRANTS.get(grantType) : undefined;
  if (!grantType) throw invalidRequest('grant_type is required');
  if (!entry || !(deps.config.allowed_grant_types as string[]).includes(entry.name)) {
    throw unsupportedGrantType(`grant_type ${JSON.stringify(grantType.slice(0, 100))} is not supported by this server`);
  }
  if (!client.grantTypes.includes(entry.name) && !client.grantTypes.includes(grantType)) {
    throw unauthorizedClient(`this client is not registered for the ${entry.name} grant`);
  }
  const response = await entry.handler(deps, client, params, address);
  deps.metrics?.tokenIssued(entry.name);
  return response;
}
