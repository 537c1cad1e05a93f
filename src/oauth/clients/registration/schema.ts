import { SCOPES } from '../../scopes.js';
import { AUTH_METHODS, GRANT_NAMES, LIMITS, type RegistrationPolicy } from './metadata.js';
import { MAX_URI_LENGTH, OOB_URI } from './uris.js';

/**
 * The JSON Schema (draft 2020-12) of the metadata POST /oauth2/register
 * accepts, so developers can check a request before sending it. It describes
 * metadata.ts; rules a schema cannot express (same host as client_uri,
 * loopback hosts) are spelled out in descriptions. Unknown properties are
 * allowed because the server drops them rather than refusing them.
 */
export function registrationSchema(issuer: string, policy: RegistrationPolicy): Record<string, unknown> {
  const grantTypes = Object.keys(GRANT_NAMES).filter((g) => policy.allowedGrantTypes.includes(GRANT_NAMES[g]!));
  const httpsUri = (description: string) => ({ type: 'string', format: 'uri', pattern: '^https://', maxLength: MAX_URI_LENGTH, description });
  const name = { type: 'string', minLength: 1, maxLength: LIMITS.name };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${issuer.replace(/\/$/, '')}/oauth2/register`,
    title: 'Client registration metadata (RFC 7591)',
    description: 'Body of POST /oauth2/register (Content-Type: application/json, at most 16 KiB). Unknown properties are ignored.',
    type: 'object',
    required: ['client_name', 'client_uri'],
    properties: {
      client_name: { ...name, description: 'Name of the application, shown to users on the consent page' },
      client_uri: httpsUri('Home page of the application; must not be a loopback host'),
      application_type: { enum: ['web', 'native'], default: 'web' },
      redirect_uris: {
        type: 'array',
        maxItems: LIMITS.redirectUris,
        items: { type: 'string', maxLength: MAX_URI_LENGTH, not: { pattern: '#' } },
        description:
          'Exact redirect URIs, no fragment. web: https:// on the host of client_uri. native: http://127.0.0.1, http://[::1] ' +
          `or http://localhost (any port), a private-use scheme containing a dot (org.example.app:/cb), or ${OOB_URI}`,
      },
      grant_types: {
        type: 'array',
        items: { enum: grantTypes },
        minItems: 1,
        uniqueItems: true,
        default: ['authorization_code'],
        description: 'authorization_code goes with response type "code"; refresh_token needs another grant',
      },
      response_types: {
        type: 'array',
        items: { enum: policy.allowedResponseTypes.filter((r) => r === 'code') },
        uniqueItems: true,
        default: ['code'],
      },
      token_endpoint_auth_method: {
        enum: AUTH_METHODS,
        default: 'client_secret_basic',
        description: '"none" registers a public client, which must use PKCE',
      },
      scope: {
        type: 'string',
        default: Object.keys(SCOPES).join(' '),
        description: `Space-separated; unknown scopes are dropped. Known: ${Object.keys(SCOPES).join(' ')}`,
      },
      logo_uri: httpsUri('On the host of client_uri'),
      tos_uri: httpsUri('On the host of client_uri'),
      policy_uri: httpsUri('On the host of client_uri'),
      software_id: { type: 'string', minLength: 1, maxLength: LIMITS.softwareId },
      software_version: { type: 'string', minLength: 1, maxLength: LIMITS.softwareVersion },
      contacts: { type: 'array', maxItems: LIMITS.contacts, items: { type: 'string', format: 'email', maxLength: LIMITS.email } },
    },
    patternProperties: {
      '^client_name#[A-Za-z0-9-]+$': { ...name, description: 'Localised client_name; the suffix is a BCP 47 language tag' },
    },
    // Absent grant_types means authorization_code, which needs a redirect URI.
    if: {
      anyOf: [
        { not: { required: ['grant_types'] } },
        { required: ['grant_types'], properties: { grant_types: { contains: { const: 'authorization_code' } } } },
      ],
    },
    then: { required: ['redirect_uris'], properties: { redirect_uris: { minItems: 1 } } },
  };
}
