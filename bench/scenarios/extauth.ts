import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BIN, DURATION, cleanEnv, log, loop, type Row } from '../lib.js';

/**
 * Round trips through `xmpp-oauth extauth --protocol generic` (Prosody's line
 * protocol: `auth:user:host:secret` → `1`/`0`), one at a time, with an access
 * token as the secret. Returns null, with the reason logged, when the bridge
 * does not answer a first `auth` correctly (e.g. not implemented in this build).
 */
export async function extauthScenario(configFile: string, accessToken: string): Promise<Row | null> {
  const child = spawn(process.execPath, [BIN, 'extauth', '--protocol', 'generic', '--config', configFile], {
    env: cleanEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string | null) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line.trim()));
  child.once('exit', () => {
    for (const w of waiting.splice(0)) w(null);
  });
  const ask = (line: string, timeoutMs: number) =>
    new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
      if (child.exitCode === null && child.stdin!.writable) child.stdin!.write(`${line}\n`);
    });
  try {
    const first = await ask(`auth:alice:localhost:${accessToken}`, 5000);
    const wrong = first === '1' ? await ask('auth:alice:localhost:not-the-password', 5000) : null;
    if (first !== '1' || wrong !== '0') {
      log(`extauth scenario skipped: the bridge did not answer auth correctly (got ${JSON.stringify(first)} / ${JSON.stringify(wrong)}; exit ${child.exitCode}; ${stderr.trim().split('\n')[0] ?? ''})`);
      return null;
    }
    let errors = 0;
    const row = await loop('extauth bridge round trip (generic, token)', DURATION, 1, async () => {
      const answer = await ask(`auth:alice:localhost:${accessToken}`, 5000);
      if (answer !== '1') errors++;
      return answer === '1';
    });
    row.errors = errors;
    return row;
  } finally {
    child.stdin!.end();
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------------------
// Redis footprint
