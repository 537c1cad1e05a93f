import type { AuthMethod } from '../clients.js';
import { SCOPES } from '../../scopes.js';
import { GRANT_NAMES, type ClientMetadata } from './metadata.js';

// The client_id is a JWT that travels in every authorization URL, so its
// claims are short names and defaults are left out. Decoding is defensive
// even though the signature was checked: a claim set from an older version,
// or from a bug, must turn into "no such client", never into an exception.

/** Compact claims: n name, l localised names, u client_uri, t "n" for native, r redirect URIs, g grant letters, m auth method, s scope, … */
export interface CompactClaims {
  n: string;
  l?: Record<string, string>;
  u: string;
  t?: 'n';
  r?: string[];
  g?: string;
  m?: 'p' | 'n';
  s?: string;
  lo?: string;
  to?: string;
  po?: string;
  si?: string;
  sv?: string;
  c?: string[];
}

// One letter per grant type, in the canonical order of GRANT_NAMES.
const GRANT_LETTERS: Record<string, string> = {
  authorization_code: 'a',
  refresh_token: 'r',
  'urn:ietf:params:oauth:grant-type:device_code': 'd',
  password: 'p',
};
const METHOD_LETTERS: Record<string, 'p' | 'n' | undefined> = { client_secret_post: 'p', none: 'n' };
const ALL_SCOPES = Object.keys(SCOPES).join(' ');

export function toClaims(meta: ClientMetadata): CompactClaims {
  const claims: CompactClaims = { n: meta.client_name, u: meta.client_uri };
  const localized = localizedOf(meta);
  if (Object.keys(localized).length > 0) claims.l = localized;
  if (meta.application_type === 'native') claims.t = 'n';
  if (meta.redirect_uris.length > 0) claims.r = meta.redirect_uris;
  const letters = meta.grant_types.map((g) => GRANT_LETTERS[g] ?? '').join('');
  if (letters !== 'a') claims.g = letters;
  const m = METHOD_LETTERS[meta.token_endpoint_auth_method];
  if (m) claims.m = m;
  if (meta.scope !== ALL_SCOPES) claims.s = meta.scope;
  if (meta.logo_uri !== undefined) claims.lo = meta.logo_uri;
  if (meta.tos_uri !== undefined) claims.to = meta.tos_uri;
  if (meta.policy_uri !== undefined) claims.po = meta.policy_uri;
  if (meta.software_id !== undefined) claims.si = meta.software_id;
  if (meta.software_version !== undefined) claims.sv = meta.software_version;
  if (meta.contacts !== undefined) claims.c = meta.contacts;
  return claims;
}

/** The inverse of toClaims, or null if the claims are not a registration. */
export function fromClaims(p: Record<string, unknown>): ClientMetadata | null {
  const str = (v: unknown): v is string => typeof v === 'string';
  const optStr = (v: unknown) => v === undefined || str(v);
  const strList = (v: unknown): v is string[] => Array.isArray(v) && v.every(str);
  if (!str(p.n) || !str(p.u)) return null;
  if (!optStr(p.g) || !optStr(p.s) || !optStr(p.lo) || !optStr(p.to) || !optStr(p.po) || !optStr(p.si) || !optStr(p.sv)) return null;
  if (p.t !== undefined && p.t !== 'n') return null;
  if (p.m !== undefined && p.m !== 'p' && p.m !== 'n') return null;
  if ((p.r !== undefined && !strList(p.r)) || (p.c !== undefined && !strList(p.c))) return null;

  const letters = (p.g as string | undefined) ?? 'a';
  const grantTypes = Object.keys(GRANT_NAMES).filter((g) => letters.includes(GRANT_LETTERS[g]!));
  if (grantTypes.length !== letters.length) return null;

  const meta: ClientMetadata = {
    client_name: p.n,
    client_uri: p.u,
    application_type: p.t === 'n' ? 'native' : 'web',
    redirect_uris: (p.r as string[] | undefined) ?? [],
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: p.m === 'p' ? 'client_secret_post' : p.m === 'n' ? 'none' : ('client_secret_basic' satisfies AuthMethod),
    scope: (p.s as string | undefined) ?? ALL_SCOPES,
  };
  if (p.l !== undefined) {
    if (typeof p.l !== 'object' || p.l === null || Array.isArray(p.l)) return null;
    for (const [tag, name] of Object.entries(p.l)) {
      if (!str(name)) return null;
      meta[`client_name#${tag}`] = name;
    }
  }
  if (p.lo !== undefined) meta.logo_uri = p.lo as string;
  if (p.to !== undefined) meta.tos_uri = p.to as string;
  if (p.po !== undefined) meta.policy_uri = p.po as string;
  if (p.si !== undefined) meta.software_id = p.si as string;
  if (p.sv !== undefined) meta.software_version = p.sv as string;
  if (p.c !== undefined) meta.contacts = p.c as string[];
  return meta;
}

/** The `client_name#xx` entries of metadata, keyed by language tag. */
export function localizedOf(meta: ClientMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (key.startsWith('client_name#') && typeof value === 'string') out[key.slice('client_name#'.length)] = value;
  }
  return out;
}
