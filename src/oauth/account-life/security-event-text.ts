// Security events in plain words, the same on the activity page, in the
// ad-hoc command, on the command line and in a notice.
import type { RecordedEvent, SecondFactor } from './security-events.js';

const quoted = (s: string | undefined) => `“${s || 'unnamed'}”`;

const FACTOR: Record<SecondFactor, string> = {
  totp: 'an authenticator app (one-time codes)',
  passkey: 'a passkey',
  'recovery-codes': 'recovery codes',
};

const SECOND: Record<string, string> = { otp: 'a one-time code', passkey: 'a passkey', 'recovery-code': 'a recovery code' };

/** What a grant's scopes let an app do, in a few words (the consent page has the long ones). */
export function accessWords(scope: readonly string[]): string {
  const words: string[] = [];
  if (scope.some((s) => s === 'xmpp' || s === 'xmpp:client:normal')) words.push('chat as you');
  else if (scope.includes('xmpp:account:write')) words.push('manage your account');
  else if (scope.includes('xmpp:account:read')) words.push('see which apps have access');
  if (scope.includes('openid') || scope.includes('profile')) words.push('know who you are');
  if (scope.includes('offline_access')) words.push('keep access while you are away');
  return words.length ? words.join(', ') : scope.join(' ') || 'nothing';
}

/** Who acted, as the event's `by` names it, for "…, from the account page". */
function byWhom(by: string | undefined): string {
  if (!by) return '';
  if (by === 'account page') return ' on the account page';
  if (/^admin/.test(by) || by === 'cli') return ' by an administrator';
  if (by === 'xmpp setpass' || by === 'xmpp server') return ' through the chat server';
  if (by.startsWith('xmpp:')) return ' from a chat client';
  return ` (${by})`;
}

function factorText(factor: SecondFactor, name: string | undefined): string {
  return factor === 'passkey' && name ? `the passkey ${quoted(name)}` : FACTOR[factor] ?? factor;
}

/** One sentence saying what happened, without the time or the place. */
export function describeEvent(e: RecordedEvent): string {
  switch (e.kind) {
    case 'web-sign-in':
      if (e.method === 'upstream') return `Signed in on the web through ${e.provider || 'the identity provider'}`;
      if (e.method === 'passkey') return 'Signed in on the web with a passkey';
      return `Signed in on the web with the password${e.secondFactor ? ` and ${SECOND[e.secondFactor] ?? e.secondFactor}` : ''}`;
    case 'xmpp-login': {
      const how = e.mechanism ? ` (${e.mechanism})` : '';
      if (e.via === 'app-password') return `A chat client logged in with the app password ${quoted(e.client)}${how}`;
      if (e.via === 'token') return `A chat client logged in with access given to ${quoted(e.client)}${how}`;
      return `A chat client logged in with the password${how}`;
    }
    case 'app-approved':
      return `Gave ${quoted(e.client)} access: ${accessWords(e.scope)}`;
    case 'app-revoked':
      if (e.by === 'replay') return `Ended the access of ${quoted(e.client)}: one of its codes or tokens was used twice, as a stolen copy would be`;
      return `Took away the access of ${quoted(e.client)}${byWhom(e.by)}`;
    case 'app-password-created':
      return `Made the app password ${quoted(e.label)} (${accessWords(e.scope)})`;
    case 'app-password-revoked':
      return `Revoked the app password ${quoted(e.label)}${byWhom(e.by)}`;
    case 'factor-added':
      return e.factor === 'recovery-codes' ? 'Made new recovery codes' : `Added ${factorText(e.factor, e.name)} as a second factor`;
    case 'factor-removed':
      return e.factor === 'recovery-codes' ? 'Removed the recovery codes' : `Removed ${factorText(e.factor, e.name)}`;
    case 'password-changed':
      return `Changed the password${byWhom(e.by)}`;
    case 'account-disabled':
      return `The account was disabled${byWhom(e.by)}`;
    case 'account-enabled':
      return `The account was enabled again${byWhom(e.by)}`;
  }
}

/** "2026-12-06 22:40 UTC" */
export function eventTime(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Where it came from: "Firefox 133 … at 203.0.113.7", or what is known of it. */
export function eventOrigin(e: Pick<RecordedEvent, 'address' | 'userAgent'>): string {
  if (e.userAgent && e.address) return `${e.userAgent}, at ${e.address}`;
  return e.userAgent ?? (e.address ? `address ${e.address}` : 'unknown');
}

/** One line for the command line and the ad-hoc command: time, what, where. */
export function eventLine(e: RecordedEvent): string {
  return `${eventTime(e.at)}  ${describeEvent(e)}  [${eventOrigin(e)}]`;
}

/**
 * The body of the chat message a notice kind sends: what happened, from where,
 * and how to undo it.
 */
export function noticeBody(e: RecordedEvent, where: { siteName: string; accountUrl: string; component: string }): string {
  const undo =
    e.kind === 'app-approved' || e.kind === 'app-password-created'
      ? `If this was not you, revoke it at ${where.accountUrl} (or with the command “Revoke an application” of ${where.component}), and change your password.`
      : `If this was not you, sign in at ${where.accountUrl} and change your password now; the activity of your account is at ${where.accountUrl}/activity.`;
  return [
    `${where.siteName}: ${describeEvent(e)}.`,
    `When: ${eventTime(e.at)}. From: ${eventOrigin(e)}.`,
    undo,
    `You can turn these messages off at ${where.accountUrl}.`,
  ].join('\n');
}
