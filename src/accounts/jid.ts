// Bare-JID handling for account names. Full PRECIS/stringprep is out of scope:
// we NFC-normalise and lowercase, which matches what Prosody and ejabberd do
// for the ASCII names nearly every deployment uses.

const LOCAL_FORBIDDEN = /["&'/:<>@\s\u0000-\u001f\u007f]/u;
const DOMAIN_LABEL = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u;

export class JidError extends Error {
  override name = 'JidError';
}

export interface BareJid {
  local: string;
  domain: string;
  bare: string;
}

export function parseBareJid(input: string): BareJid {
  if (typeof input !== 'string' || input.length === 0) throw new JidError('a JID is required (user@domain)');
  if (input.includes('/')) throw new JidError('expected a bare JID (user@domain), without a resource');
  const at = input.lastIndexOf('@');
  if (at <= 0) throw new JidError('expected a bare JID of the form user@domain');
  return makeBareJid(input.slice(0, at), input.slice(at + 1));
}

export function makeBareJid(localRaw: string, domainRaw: string): BareJid {
  const local = localRaw.normalize('NFC').toLowerCase();
  const domain = domainRaw.normalize('NFC').toLowerCase().replace(/\.$/, '');
  if (!local || Buffer.byteLength(local) > 1023 || LOCAL_FORBIDDEN.test(local)) {
    throw new JidError('the user part of the JID is empty, too long or contains a forbidden character');
  }
  if (!domain || Buffer.byteLength(domain) > 1023 || !domain.split('.').every((l) => DOMAIN_LABEL.test(l))) {
    throw new JidError('the domain part of the JID is not a valid host name');
  }
  return { local, domain, bare: `${local}@${domain}` };
}

/** The normalised bare JID, or null if the input is not one. */
export function normaliseJid(input: string): string | null {
  try {
    return parseBareJid(input).bare;
  } catch {
    return null;
  }
}
