// A login pinned to one SASL mechanism (SCRAM-SHA-1, SCRAM-SHA-256, PLAIN, …)
// through Debian's python3-slixmpp, a real client library: the way Conversations
// or Monal log in again with the mechanism they used last.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoginTarget } from './xmpp-client.js';

const SCRIPT = fileURLToPath(new URL('./slixmpp-login.py', import.meta.url));

export type Mechanism = 'SCRAM-SHA-1' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1-PLUS' | 'SCRAM-SHA-256-PLUS' | 'PLAIN';

/** `tlsCa`: STARTTLS first at TLS 1.2, trusting that CA file (channel binding needs TLS). */
export function pinnedLogin({ port, domain }: LoginTarget, user: string, password: string, mechanism: Mechanism, tlsCa?: string): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    // Debian's python3 (where python3-slixmpp lives), not a python3 earlier on the PATH.
    const args = [SCRIPT, String(port), `${user}@${domain}`, mechanism, ...(tlsCa ? [tlsCa] : [])];
    const child = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as { ok: boolean; error?: string });
      } catch {
        reject(new Error(`slixmpp login printed no result (stderr: ${err.slice(-2000)})`));
      }
    });
    child.stdin.end(password);
  });
}
