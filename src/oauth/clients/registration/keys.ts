import { hmacSha256 } from '../../../util/crypto.js';

// Stateless registration (as in mod_http_oauth2): everything derives from the
// operator's registration_key, so no registration is ever written to the store.

/** The host part of the issuer URL; a key derived for one host is useless on another. */
export function issuerHost(issuer: string): string {
  return new URL(issuer).hostname;
}

/** per_host_key = HMAC-SHA256(registration_key, issuer host): signs the client_id JWTs. */
export function perHostKey(registrationKey: string, issuer: string): Buffer {
  return hmacSha256(registrationKey, issuerHost(issuer));
}

/** client_secret = HMAC-SHA256(per_host_key, client_id), hex: recomputed on every check, never stored. */
export function clientSecretFor(hostKey: Buffer, clientId: string): string {
  return hmacSha256(hostKey, clientId).toString('hex');
}
