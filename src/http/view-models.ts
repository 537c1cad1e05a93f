import QRCode from 'qrcode';
import type { FactorKind } from '../accounts/second-factor/factors.js';
import type { Config } from '../config/schema.js';
import type { Client } from '../oauth/clients/clients.js';
import { describeScopes } from '../oauth/scopes.js';

function host(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  try {
    return new URL(uri).host || new URL(uri).protocol.replace(/:$/, '');
  } catch {
    return undefined;
  }
}

/** What the consent page shows about who is asking and for what. */
export function consentView(client: Client, scope: string[], redirectUri: string | undefined, config: Config) {
  return {
    clientName: client.name,
    clientUri: client.clientUri,
    clientHost: host(client.clientUri),
    logoUri: client.logoUri,
    tosUri: client.tosUri,
    policyUri: client.policyUri,
    dynamic: client.dynamic,
    redirectHost: host(redirectUri),
    scopes: describeScopes(scope),
    termsUrl: config.terms_url,
    policyUrl: config.policy_url,
  };
}

/** What the second step shows: a choice per factor kind the account has (see factors.ts). */
export function secondStepView(form: { action: string; interaction: string }, kinds: readonly FactorKind[]) {
  return {
    action: form.action,
    interaction: form.interaction,
    totp: kinds.includes('totp'),
    passkey: kinds.includes('passkey'),
    // Recovery codes come with TOTP.
    recovery: kinds.includes('totp'),
  };
}

/** The enrolment page's QR code (inline SVG: no image request, no script, the CSP stays strict) and the secret to type in by hand. */
export async function totpEnrolView(secret: string, uri: string) {
  const qrSvg = await QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
  return {
    qrSvg: qrSvg.replace('<svg ', '<svg role="img" aria-label="QR code" class="qr-code" '),
    secretGroups: secret.match(/.{1,4}/g)!.join(' '),
  };
}
