// Reads requests from an external-auth stream, answers each in order, and
// never dies on bad input: a request we cannot serve is answered "no".
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log.js';
import type { CoreDeps } from '../oauth/context.js';
import { StoreUnavailableError } from '../store/unavailable.js';
import { parseCommand, runCommand, type Command } from './commands.js';
import type { Frame, Framing } from './framing.js';
import { KnownUsers } from './known-users.js';

export interface BridgeOptions {
  input: Readable;
  output: Writable;
  framing: Framing;
  core: CoreDeps;
  log: Logger;
}

/** Resolves when the input ends, after every request read so far is answered. */
export async function runBridge({ input, output, framing, core, log }: BridgeOptions): Promise<void> {
  const known = new KnownUsers();
  let chain = Promise.resolve();
  for await (const chunk of input as AsyncIterable<Buffer>) {
    for (const frame of framing.push(chunk)) {
      // Strictly in order: both protocols match answers to requests by position.
      chain = chain.then(() => answer(frame)).then((ok) => {
        output.write(framing.encode(ok));
      });
    }
    // Back-pressure: do not read further ahead than we answer.
    await chain;
  }
  await chain;
  if (framing.pending() > 0) log.info({ bytes: framing.pending() }, 'extauth input ended in the middle of a request; it is not answered');

  async function answer(frame: Frame): Promise<boolean> {
    if (frame.kind === 'oversized') {
      log.info({ length: frame.length }, 'extauth request refused: too long');
      return false;
    }
    const command = parseCommand(frame.bytes);
    if ('error' in command) {
      log.info({ reason: command.error }, 'extauth request refused: malformed');
      return false;
    }
    try {
      const ok = await runCommand(core, command);
      core.metrics?.xmppQuery(`extauth-${command.cmd}`, ok ? 'ok' : 'no');
      noteExistence(command, ok);
      return ok;
    } catch (err) {
      if (err instanceof StoreUnavailableError && command.cmd === 'isuser' && known.has(command.user, command.host)) {
        log.info({ cmd: command.cmd }, 'extauth answered yes from memory: storage unavailable, the account existed when last seen');
        return true;
      }
      // No "try later" answer exists in either protocol: say no, and say why here.
      if (err instanceof StoreUnavailableError) log.warn({ cmd: command.cmd }, 'extauth answered no: storage unavailable');
      else log.warn({ err, cmd: command.cmd }, 'extauth command failed');
      return false;
    }
  }

  function noteExistence(c: Command, ok: boolean): void {
    if (c.cmd === 'removeuser' || c.cmd === 'removeuser3') {
      if (ok) known.forget(c.user, c.host);
    } else if (c.cmd === 'isuser') {
      if (ok) known.remember(c.user, c.host);
      else known.forget(c.user, c.host);
    } else if (ok) {
      known.remember(c.user, c.host); // auth, setpass, tryregister: the account is there
    }
  }
}
