import type { Config } from '../../../config/schema.js';
import type { AuthMethod } from '../clients.js';
import { formatScope, parseScope, SCOPES } from '../../scopes.js';
import { invalidClientMetadata, invalidRedirectUri } from './errors.js';
import { checkClientUri, checkRedirectUri, checkSiteUri } from './uris.js';

// The validation rules of dynamic client registration (RFC 7591 section 2),
// pure: metadata in, accepted metadata out, or an OAuthError naming the field.
// Unknown fields are dropped, not refused (RFC 7591 section 2).

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Wire grant_types value → the short name config.allowed_grant_types and Client.grantTypes use. */
export const GRANT_NAMES: Readonly<Record<string, string>> = {
  authorization_code: 'authorization_code',
  refresh_token: 'refresh_token',
  [DEVICE_GRANT]: 'device_code',
  password: 'password',
};

export const AUTH_METHODS: readonly AuthMethod[] = ['client_secret_basic', 'client_secret_post', 'none'];

// Limits keep the client_id JWT, which carries all of this, short enough for URLs.
export const LIMITS = {
  name: 100,
  localizedNames: 10,
  redirectUris: 10,
  contacts: 5,
  email: 254,
  softwareId: 200,
  softwareVersion: 100,
} as const;

/** RFC 7591 metadata as this server accepted it: the response echoes it, the client_id carries it. */
export interface ClientMetadata {
  client_name: string;
  client_uri: string;
  application_type: 'web' | 'native';
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: AuthMethod;
  scope: string;
  logo_uri?: string;
  tos_uri?: string;
  policy_uri?: string;
  software_id?: string;
  software_version?: string;
  contacts?: string[];
  /** Localised names (RFC 7591 section 2.2), e.g. `client_name#fr`. */
  [localizedName: `client_name#${string}`]: string;
}

/** What the server allows; registrations may only ask for a subset. */
export interface RegistrationPolicy {
  allowedGrantTypes: readonly string[];
  allowedResponseTypes: readonly string[];
}

export function policyFromConfig(config: Pick<Config, 'allowed_grant_types' | 'allowed_response_types'>): RegistrationPolicy {
  return { allowedGrantTypes: config.allowed_grant_types, allowedResponseTypes: config.allowed_response_types };
}

/** Validates a registration request body. Throws OAuthError (400 invalid_client_metadata / invalid_redirect_uri). */
export function validateClientMetadata(input: unknown, policy: RegistrationPolicy): ClientMetadata {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidClientMetadata('the request body must be a JSON object of client metadata');
  }
  // Own properties only: a parsed "__proto__" key must not reach us through the prototype.
  const body = new Map(Object.entries(input));
  // Some client libraries send null for every unset field: null means absent.
  const get = (key: string): unknown => body.get(key) ?? undefined;

  const clientName = checkName('client_name', get('client_name'));
  const localized = localizedNames(body);
  const clientUri = checkClientUri(get('client_uri'));

  const applicationType = get('application_type') ?? 'web';
  if (applicationType !== 'web' && applicationType !== 'native') {
    throw invalidClientMetadata('application_type must be "web" or "native"');
  }

  const authMethod = get('token_endpoint_auth_method') ?? 'client_secret_basic';
  if (!AUTH_METHODS.includes(authMethod as AuthMethod)) {
    throw invalidClientMetadata(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  }

  const { grantTypes, responseTypes } = grantsAndResponses(get('grant_types'), get('response_types'), policy);

  const redirectUris = [...new Set(stringList('redirect_uris', get('redirect_uris') ?? [], LIMITS.redirectUris, invalidRedirectUri))]
    .map((uri) => checkRedirectUri(uri, applicationType, clientUri));
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    throw invalidRedirectUri('redirect_uris must hold at least one URI for the authorization_code grant');
  }

  const meta: ClientMetadata = {
    client_name: clientName,
    ...localized,
    client_uri: get('client_uri') as string,
    application_type: applicationType,
    redirect_uris: redirectUris,
    grant_types: grantTypes,
    response_types: responseTypes,
    token_endpoint_auth_method: authMethod as AuthMethod,
    scope: checkScope(get('scope')),
  };
  for (const field of ['logo_uri', 'tos_uri', 'policy_uri'] as const) {
    const value = get(field);
    if (value !== undefined) meta[field] = checkSiteUri(field, value, clientUri);
  }
  const softwareId = get('software_id');
  if (softwareId !== undefined) meta.software_id = checkText('software_id', softwareId, LIMITS.softwareId);
  const softwareVersion = get('software_version');
  if (softwareVersion !== undefined) meta.software_version = checkText('software_version', softwareVersion, LIMITS.softwareVersion);
  const contacts = get('contacts');
  if (contacts !== undefined) meta.contacts = checkContacts(contacts);
  return meta;
}

// Control characters and bidi overrides would let a name spoof the consent page's
// wording; noncharacters and lone surrogates cannot travel in XML (XMPP forms).
const UNSAFE_TEXT = /[\p{Cc}\p{Cs}\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff]/u;

function checkText(field: string, raw: unknown, max: number): string {
  if (typeof raw !== 'string') throw invalidClientMetadata(`${field} must be a string`);
  const value = raw.trim();
  if (value === '') throw invalidClientMetadata(`${field} must not be empty`);
  if (value.length > max) throw invalidClientMetadata(`${field} is longer than ${max} characters`);
  if (UNSAFE_TEXT.test(value)) throw invalidClientMetadata(`${field} must not contain control, bidirectional-override or non-characters`);
  return value;
}

function checkName(field: string, raw: unknown): string {
  if (raw === undefined) throw invalidClientMetadata(`${field} is required: the consent page shows it`);
  return checkText(field, raw, LIMITS.name);
}

/** `client_name#<BCP 47 tag>` fields, the tag in canonical form (`client_name#FR` → `client_name#fr`). */
function localizedNames(body: Map<string, unknown>): Record<`client_name#${string}`, string> {
  const out: Record<`client_name#${string}`, string> = {};
  for (const [key, value] of body) {
    if (!key.startsWith('client_name#') || value === null) continue;
    const tag = key.slice('client_name#'.length);
    let canonical: string | undefined;
    try {
      canonical = Intl.getCanonicalLocales(tag)[0];
    } catch {
      // RangeError: not a well-formed language tag.
    }
    if (!canonical) throw invalidClientMetadata(`${key}: ${JSON.stringify(tag.slice(0, 40))} is not a BCP 47 language tag`);
    out[`client_name#${canonical}`] = checkName(key, value);
  }
  if (Object.keys(out).length > LIMITS.localizedNames) {
    throw invalidClientMetadata(`client_name: at most ${LIMITS.localizedNames} localised names (client_name#xx)`);
  }
  return out;
}

function stringList(field: string, raw: unknown, max: number, fail: (d: string) => Error): string[] {
  if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string')) throw fail(`${field} must be an array of strings`);
  if (raw.length > max) throw fail(`${field} may hold at most ${max} entries`);
  return raw as string[];
}

/**
 * grant_types and response_types, each defaulting from the other (RFC 7591
 * gives ["authorization_code"] and ["code"]), and consistent: "code" if and
 * only if authorization_code (section 2.1). Returned in a canonical order.
 */
function grantsAndResponses(
  rawGrants: unknown,
  rawResponses: unknown,
  policy: RegistrationPolicy,
): { grantTypes: string[]; responseTypes: string[] } {
  const responses = rawResponses === undefined ? undefined : new Set(stringList('response_types', rawResponses, 5, invalidClientMetadata));
  for (const r of responses ?? []) {
    if (r !== 'code') throw invalidClientMetadata(`response_types: ${JSON.stringify(r.slice(0, 40))} is not supported; only "code" is`);
  }

  const grants = new Set(
    rawGrants === undefined
      ? responses && !responses.has('code') ? [] : ['authorization_code']
      : stringList('grant_types', rawGrants, 8, invalidClientMetadata),
  );
  for (const g of grants) {
    const name = Object.hasOwn(GRANT_NAMES, g) ? GRANT_NAMES[g] : undefined;
    if (!name) {
      const hint = g === 'device_code' ? `; use ${DEVICE_GRANT}` : '';
      throw invalidClientMetadata(`grant_types: ${JSON.stringify(g.slice(0, 60))} is not supported${hint}`);
    }
    if (!policy.allowedGrantTypes.includes(name)) throw invalidClientMetadata(`grant_types: "${g}" is disabled on this server`);
  }
  if (grants.size === 0) throw invalidClientMetadata('grant_types must name at least one grant type');
  if (grants.has('refresh_token') && grants.size === 1) {
    throw invalidClientMetadata('grant_types: refresh_token needs a grant that issues refresh tokens (e.g. authorization_code)');
  }

  const responseTypes = responses ? [...responses] : grants.has('authorization_code') ? ['code'] : [];
  if (responseTypes.includes('code') !== grants.has('authorization_code')) {
    throw invalidClientMetadata('grant_types and response_types disagree: response type "code" goes with the authorization_code grant, and only with it');
  }
  // Checked after the defaults are filled in: a default the server disabled is refused too.
  for (const r of responseTypes) {
    if (!policy.allowedResponseTypes.includes(r)) throw invalidClientMetadata(`response_types: "${r}" is disabled on this server`);
  }
  return { grantTypes: Object.keys(GRANT_NAMES).filter((g) => grants.has(g)), responseTypes };
}

/** Space-separated scopes; unknown ones are dropped (RFC 7591 section 2); absent means every known scope. */
function checkScope(raw: unknown): string {
  if (raw === undefined) return Object.keys(SCOPES).join(' ');
  if (typeof raw !== 'string') throw invalidClientMetadata('scope must be a space-separated string');
  const scope = parseScope(raw);
  if (scope.length === 0) throw invalidClientMetadata(`scope names none of the scopes this server knows (${Object.keys(SCOPES).join(' ')})`);
  return formatScope(scope);
}

// Deliberately loose: one @, no spaces or brackets. Only people read contacts.
const EMAIL = /^[^\s@<>()[\]",;:]+@[^\s@<>()[\]",;:]+$/;

function checkContacts(raw: unknown): string[] {
  const list = stringList('contacts', raw, LIMITS.contacts, invalidClientMetadata);
  for (const c of list) {
    if (c.length > LIMITS.email || !EMAIL.test(c)) throw invalidClientMetadata(`contacts: ${JSON.stringify(c.slice(0, 60))} is not an e-mail address`);
  }
  return [...new Set(list)];
}
