// The commands of the external-auth protocols, parsed from one request and
// answered through the same core calls as the component's auth queries.
import type { CoreDeps } from '../oauth/context.js';
import * as api from '../oauth/xmpp-login/xmpp-server-api.js';

export type Command =
  | { cmd: 'auth' | 'setpass' | 'tryregister' | 'removeuser3'; user: string; host: string; password: string }
  | { cmd: 'isuser' | 'removeuser'; user: string; host: string };

const WITH_PASSWORD = new Set(['auth', 'setpass', 'tryregister', 'removeuser3']);
const WITHOUT_PASSWORD = new Set(['isuser', 'removeuser']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A command, or why the request is not one (never echoing the password). */
export function parseCommand(bytes: Buffer): Command | { error: string } {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { error: 'request is not valid UTF-8' };
  }
  // Only the first three colons separate fields: passwords may contain colons.
  const first = text.indexOf(':');
  const second = first < 0 ? -1 : text.indexOf(':', first + 1);
  const cmd = first < 0 ? text : text.slice(0, first);
  if (!WITH_PASSWORD.has(cmd) && !WITHOUT_PASSWORD.has(cmd)) {
    return { error: `unknown command "${cmd.slice(0, 32)}"` };
  }
  if (second < 0) return { error: `${cmd}: expected ${cmd}:user:host` };
  const user = text.slice(first + 1, second);
  const third = text.indexOf(':', second + 1);
  if (WITHOUT_PASSWORD.has(cmd)) {
    if (third >= 0) return { error: `${cmd}: too many fields` };
    const host = text.slice(second + 1);
    if (!user || !host) return { error: `${cmd}: empty user or host` };
    return { cmd: cmd as 'isuser' | 'removeuser', user, host };
  }
  if (third < 0) return { error: `${cmd}: expected ${cmd}:user:host:password` };
  const host = text.slice(second + 1, third);
  const password = text.slice(third + 1);
  if (!user || !host) return { error: `${cmd}: empty user or host` };
  if (!password) return { error: `${cmd}: empty password` };
  return { cmd: cmd as 'auth' | 'setpass' | 'tryregister' | 'removeuser3', user, host, password };
}

export async function runCommand(core: CoreDeps, c: Command): Promise<boolean> {
  switch (c.cmd) {
    case 'auth':
      // A bare yes cannot restrict the session: account-only secrets are refused (review #3).
      return (await api.checkLogin(core, c.user, c.host, c.password, { canRestrict: false })).ok;
    case 'isuser':
      return api.userExists(core, c.user, c.host);
    case 'setpass':
      return (await api.setPassword(core, c.user, c.host, c.password)).ok;
    case 'tryregister':
      return (await api.registerUser(core, c.user, c.host, c.password)).ok;
    case 'removeuser':
      return (await api.removeUser(core, c.user, c.host)).ok;
    case 'removeuser3':
      return (await api.removeUser(core, c.user, c.host, c.password)).ok;
  }
}
