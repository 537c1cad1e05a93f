// One xmpp-oauth instance as an operator runs it: the built CLI, `serve
// --config FILE`, on a fixed loopback port so a restart comes back at the same
// address. Its JSON log goes to a file beside the report.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN } from '../test/helpers/cli.js';

// A soak that dies (an exception, Ctrl-C) leaves no instance behind.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface ReadyInfo {
  status: number;
  xmppOnline: boolean;
}

export class Instance {
  private child: ChildProcess | undefined;
  private log: WriteStream;
  /** Start time of the running process (RSS is compared within one process only). */
  startedAt = 0;
  incarnation = 0;
  errorLines = 0;

  constructor(readonly name: string, readonly port: number, private readonly configFile: string, logFile: string) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  /** The config file, for the CLI commands an operator runs against the same store. */
  configFileForCli(): string {
    return this.configFile;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_'))) as Record<string, string>;
    const child = spawn(process.execPath, [BIN, 'serve', '--config', this.configFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    this.incarnation++;
    this.startedAt = Date.now();
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      this.log.write(d);
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        if (/"level":(50|60)|"level":"(error|fatal)"/.test(buf.slice(0, nl))) this.errorLines++;
        buf = buf.slice(nl + 1);
      }
    });
    child.stderr!.on('data', (d: Buffer) => this.log.write(d));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited during start-up (see its log)`);
      if ((await this.ready()).status === 200) return;
      await sleep(100);
    }
    throw new Error(`${this.name} not ready within ${timeoutMs} ms`);
  }

  async ready(): Promise<ReadyInfo> {
    try {
      const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(3000) });
      const body = (await res.json().catch(() => ({}))) as { xmpp?: { online?: boolean } };
      return { status: res.status, xmppOnline: body.xmpp?.online === true };
    } catch {
      return { status: 0, xmppOnline: false };
    }
  }

  /** SIGKILL (a crash) or SIGTERM (a clean stop); resolves once the process is gone. */
  async kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    await new Promise<void>((r) => this.log.end(() => r()));
  }
}
