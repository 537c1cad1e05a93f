import { OAuthError } from '../../errors.js';

// The two error codes of RFC 7591 section 3.2.2 this server uses.
export const invalidClientMetadata = (d: string) => new OAuthError('invalid_client_metadata', d);
export const invalidRedirectUri = (d: string) => new OAuthError('invalid_redirect_uri', d);
