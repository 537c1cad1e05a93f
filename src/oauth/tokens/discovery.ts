import type { Config } from '../../config/schema.js';
import { SCOPES } from '../scopes.js';
import { DEVICE_GRANT_TYPE } from '../grants/token-endpoint.js';
import { ACR_VALUES } from '../../accounts/second-factor/assurance.js';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'];

/** RFC 8414 / OIDC Discovery 1.0 metadata, reflecting what is actually enabled. */
export function discoveryDocument(config: Config, signingAlgs: string[]): Record<string, unknown> {
  const base = config.issuer;
  const grants = config.allowed_grant_types.map((g) => (g === 'device_code' ? DEVICE_GRANT_TYPE : g));
  const doc: Record<string, unknown> = {
    issuer: base,
    authorization_endpoint: `${base}/oauth2/authorize`,
    token_endpoint: `${base}/oauth2/token`,
    userinfo_endpoint: `${base}/oauth2/userinfo`,
    jwks_uri: `${base}/oauth2/jwks`,
    revocation_endpoint: `${base}/oauth2/revoke`,
    introspection_endpoint: `${base}/oauth2/introspect`,
    scopes_supported: Object.keys(SCOPES),
    response_types_supported: config.allowed_response_types,
    response_modes_supported: ['query'],
    grant_types_supported: grants,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: signingAlgs,
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS.filter((m) => m !== 'none'),
    code_challenge_methods_supported: config.allowed_code_challenge_methods,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'at_hash', 'preferred_username', 'jid'],
    acr_values_supported: [...ACR_VALUES],
    prompt_values_supported: ['none', 'login', 'consent'],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    authorization_response_iss_parameter_supported: true,
    service_documentation: `${base}/docs`,
    ui_locales_supported: ['en'],
  };
  if (config.registration_key) doc.registration_endpoint = `${base}/oauth2/register`;
  if (config.allowed_grant_types.includes('device_code')) doc.device_authorization_endpoint = `${base}/oauth2/device`;
  if (config.terms_url) doc.op_tos_uri = config.terms_url;
  if (config.policy_url) doc.op_policy_uri = config.policy_url;
  return doc;
}
