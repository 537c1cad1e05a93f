// Types for xep0493-client.mjs, so TypeScript programs (and the test suite) can drive it.
export interface XmppServer {
  host: string;
  port: number;
  domain: string;
  insecureTls?: boolean;
}
export interface Metadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  registration_endpoint: string;
  [key: string]: unknown;
}
export interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
  expires_in: number;
  token_type: string;
}
export type LoginResult =
  | { ok: true; jid: string }
  | { ok: false; condition?: string; error?: { status: string; scope?: string; 'openid-configuration'?: string } };
export const LOGIN_SCOPE: 'xmpp:client:normal';
export function oauthbearerResponse(token: string, opts?: { authzid?: string; host?: string; port?: number }): string;
export function oauthbearerLogin(server: XmppServer, token: string, opts?: { authzid?: string }): Promise<LoginResult>;
export function plainLogin(server: XmppServer, username: string, password: string): Promise<LoginResult>;
export function discover(server: XmppServer): Promise<{ openidConfiguration: string; scope: string }>;
export function fetchMetadata(url: string): Promise<Metadata>;
export function register(meta: Metadata, opts?: { scope?: string; clientName?: string; clientUri?: string }): Promise<string>;
export function authorize(meta: Metadata, clientId: string, opts?: { scope?: string; loginHint?: string; redirectPort?: number }): Promise<{ url: string; tokens: Promise<Tokens> }>;
export function tokenRequest(meta: Metadata, params: Record<string, string>): Promise<Tokens>;
export function refresh(meta: Metadata, clientId: string, refreshToken: string): Promise<Tokens>;
