import { stdin, stderr } from 'node:process';

/** Reads all of standard input; one trailing newline is dropped (`echo pw | …`). */
export async function readStdinSecret(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks for a secret on the terminal without echoing it. */
export function promptSecret(question: string): Promise<string> {
  if (!stdin.isTTY) {
    return Promise.reject(new Error('no terminal to ask for a password on: use --password-stdin'));
  }
  return new Promise((resolve, reject) => {
    let value = '';
    stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Prompt twice and insist the two entries match. */
export async function promptNewPassword(): Promise<string> {
  const first = await promptSecret('New password: ');
  const second = await promptSecret('Repeat password: ');
  if (first !== second) throw new Error('the two passwords differ');
  return first;
}
