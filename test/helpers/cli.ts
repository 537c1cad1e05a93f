import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { GiveUp, waitFor } from './wait.js';

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

export type LogLine = Record<string, unknown> & { level?: string; msg?: string };

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  /** Parsed JSON log lines from stdout, as they arrive. */
  lines: LogLine[];
  base: string;
  /** Everything written to stderr so far (the trial block goes there). */
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * The built `xmpp-oauth serve` as an operator starts it, with nothing but PATH
 * and HOME in its environment, plus the one documented knob that keeps trial
 * mode on: XMPP_OAUTH_HTTP__PORT, so a busy 8080 cannot fail the test.
 * Resolves once it logs "HTTP listening".
 */
export async function serveProcess(extraEnv: Record<string, string> = {}, args: string[] = []): Promise<ServeProcess> {
  const port = await freePort();
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', XMPP_OAUTH_HTTP__PORT: String(port), ...extraEnv };
  const child = spawn(process.execPath, [BIN, ...args, 'serve'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  let buffer = '';
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buffer.slice(0, nl)) as LogLine);
      buffer = buffer.slice(nl + 1);
    }
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const running: ServeProcess = {
    child,
    lines,
    base: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
  try {
    await waitFor('HTTP listening', () => {
      if (child.exitCode !== null) throw new GiveUp(`exited ${child.exitCode}: ${stderr}`);
      return lines.find((l) => l.msg === 'HTTP listening');
    }, { timeoutMs: 20_000 });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return running;
}
