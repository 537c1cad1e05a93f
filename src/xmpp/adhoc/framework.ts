// XEP-0050 ad-hoc commands, stateless: every form we send carries what the next
// step needs (hidden fields), so any instance attached to the XMPP server can
// answer any step and nothing is kept between them. The session id is only echoed.
import { normaliseJid } from '../../accounts/jid.js';
import type { AccountAccess } from '../../oauth/xmpp-login/account-access.js';
import { randomToken } from '../../util/crypto.js';
import { NS_DATA, readSubmitted, type Submitted } from '../data-forms.js';
import { iqError } from '../errors.js';
import type { IqHandlerResult, IqRegistry } from '../iq.js';
import { xml, type Element } from '../xml.js';
import type { SessionAccess } from './session-access.js';

export const NS_COMMANDS = 'http://jabber.org/protocol/commands';

export interface Requester {
  /** Normalised bare JID of whoever sent the command (the server stamps `from`). */
  jid: string;
  /** A user of one of our XMPP hosts. */
  isLocalUser: boolean;
  isAdmin: boolean;
  /** What the sending session may do (its login scope); `full` until the server has been asked. */
  access: AccountAccess;
}

export interface Note {
  type: 'info' | 'warn' | 'error';
  text: string;
}

export type Step =
  /** Waiting for the form to come back; `complete` is the only way forward. */
  | { status: 'executing'; form: Element; note?: Note }
  | { status: 'completed'; form?: Element; note?: Note };

export interface AdhocCommand {
  node: string;
  name: string;
  allowed(who: Requester): boolean;
  /** `form` is absent on the first step (and after `prev`). */
  run(who: Requester, form: Submitted | undefined): Promise<Step>;
}

const ACTIONS = new Set(['execute', 'next', 'complete', 'prev', 'cancel']);

export function requesterOf(from: string, hosts: readonly string[], admins: readonly string[]): Requester | null {
  const bare = normaliseJid(from.split('/')[0] ?? '');
  if (!bare) return null;
  const domain = bare.slice(bare.lastIndexOf('@') + 1);
  return {
    jid: bare,
    isLocalUser: hosts.some((h) => h.toLowerCase() === domain),
    isAdmin: admins.includes(bare), // normalised when the config is loaded
    access: 'full',
  };
}

export function installCommands(
  link: IqRegistry,
  commands: AdhocCommand[],
  whoIs: (from: string) => Requester | null,
  component: () => string,
  /** Asks the XMPP server what the sending session may do; absent: no restriction known. */
  sessionAccess?: (from: string) => Promise<SessionAccess>,
): void {
  const byNode = new Map(commands.map((c) => [c.node, c]));
  const visible = (from: string) => {
    const who = whoIs(from);
    return who ? commands.filter((c) => c.allowed(who)) : [];
  };

  link.addFeature(NS_COMMANDS);
  link.addDiscoNode(NS_COMMANDS, {
    info: () => ({ identities: [{ category: 'automation', type: 'command-list', name: 'Commands' }], features: [NS_COMMANDS] }),
    items: (from) => visible(from).map((c) => ({ jid: component(), node: c.node, name: c.name })),
  });
  for (const c of commands) {
    link.addDiscoNode(c.node, {
      info: (from) =>
        visible(from).includes(c)
          ? { identities: [{ category: 'automation', type: 'command-node', name: c.name }], features: [NS_COMMANDS, NS_DATA] }
          : null,
    });
  }

  link.handleIq('set', NS_COMMANDS, 'command', async ({ from, element }): Promise<IqHandlerResult> => {
    const node = element.attrs.node as string | undefined;
    const command = node ? byNode.get(node) : undefined;
    if (!command) return iqError('item-not-found', 'no such command');
    const who = whoIs(from);
    if (!who || !command.allowed(who)) return iqError('forbidden', 'you may not run this command');
    // The sender's JID names the account; its session's scope decides the rest (issue 22 #2).
    if (sessionAccess && who.isLocalUser) {
      const access = await sessionAccess(from);
      if (access === 'unavailable') return { ...iqError('internal-server-error', 'could not check this session; retry later'), type: 'wait' };
      if (access === 'no-session') return iqError('forbidden', 'no such session');
      who.access = access;
      if (!command.allowed(who)) return iqError('forbidden', 'this session may not run this command (restricted scope)');
    }
    const action = (element.attrs.action as string | undefined) ?? 'execute';
    if (!ACTIONS.has(action)) return { ...iqError('bad-request', `unknown action ${action.slice(0, 20)}`), extra: xml('malformed-action', { xmlns: NS_COMMANDS }) };
    const sessionid = sessionId(element.attrs.sessionid);
    const x = element.getChild('x', NS_DATA);
    if (action === 'cancel' || x?.attrs.type === 'cancel') return reply(command.node, sessionid, { status: 'canceled' });
    // `prev` starts over: every step can be rebuilt from nothing.
    const step = await command.run(who, action === 'prev' ? undefined : readSubmitted(x));
    return reply(command.node, sessionid, step);
  });
}

function sessionId(given: unknown): string {
  return typeof given === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(given) ? given : randomToken(12);
}

function reply(node: string, sessionid: string, step: Step | { status: 'canceled' }): Element {
  const note = 'note' in step && step.note ? xml('note', { type: step.note.type }, step.note.text) : null;
  const actions = step.status === 'executing' ? xml('actions', { execute: 'complete' }, xml('complete')) : null;
  const form = 'form' in step ? step.form : undefined;
  return xml('command', { xmlns: NS_COMMANDS, node, sessionid, status: step.status }, actions, note, form ?? null);
}
