import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/xmpp-oauth.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from the first byte of output (the process is up) to its exit. */
  afterFirstOutputMs: number;
}

export interface CliOptions {
  input?: string;
  env?: Record<string, string>;
  /** Run as this user and group id (needs root): e.g. to be refused a privileged port. */
  uid?: number;
  gid?: number;
  /** Kill the process (SIGKILL) if it has not exited after this long; the result then has code null. */
  timeoutMs?: number;
}

/** Runs the built command line (as an operator would) with its own environment. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_')));
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid ?? opts.uid }),
    });
    let stdout = '';
    let stderr = '';
    let firstOutputAt: number | undefined;
    const seen = () => (firstOutputAt ??= performance.now());
    child.stdout.on('data', (d: Buffer) => {
      seen();
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      seen();
      stderr += d.toString();
    });
    const killer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      const end = performance.now();
      resolve({ code, stdout, stderr, afterFirstOutputMs: end - (firstOutputAt ?? end) });
    });
    child.stdin.end(opts.input ?? '');
  });
}
