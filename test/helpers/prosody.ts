// Throwaway Prosody for integration tests: loopback only, free ports, its own data
// dir, killed when the test process exits. Two generations: Debian 12's 0.12 (the
// system package) and Debian 13's 13.0 (unpacked beside it by
// scripts/install-prosody13.sh, with prosody-modules' SASL2/Bind2/FAST).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, chownSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ProsodyComponent {
  domain: string;
  secret: string;
}

export interface ProsodyVirtualHost {
  host: string;
  /** Extra per-host options, e.g. { authentication: 'xmpp_oauth' }. */
  options?: Record<string, string | number | boolean>;
}

export type ProsodyVersion = '0.12' | '13';

/** Where scripts/install-prosody13.sh unpacked Prosody 13 (PROSODY13_ROOT overrides). */
export const PROSODY13_ROOT = process.env.PROSODY13_ROOT ?? '/opt/prosody13';

/** Both generations, newest first: suites that must hold on each loop over these. */
export const PROSODY_VERSIONS: readonly ProsodyVersion[] = ['13', '0.12'];

function prosodyBinary(version: ProsodyVersion): string {
  if (version === '0.12') return 'prosody';
  const bin = join(PROSODY13_ROOT, 'usr/bin/prosody');
  if (!existsSync(bin)) throw new Error(`Prosody 13 is not at ${bin}: run scripts/install-prosody13.sh (or set PROSODY13_ROOT)`);
  return bin;
}

export interface ProsodyOptions {
  /** Which generation to run (default 0.12, Debian 12's package). */
  version?: ProsodyVersion;
  components: ProsodyComponent[];
  /** Default: ["localhost"]. */
  virtualHosts?: Array<string | ProsodyVirtualHost>;
  /** Directory with extra Prosody modules (added to plugin_paths). */
  pluginDir?: string;
  /** Added to the default modules_enabled list. */
  modules?: string[];
  /** Raw Lua appended to the global section. */
  extraConfig?: string;
  /** Leave the temp dir behind (for debugging). */
  keep?: boolean;
  startTimeoutMs?: number;
  /** Fixed ports (e.g. chosen before something else starts that will connect to them); default: free ones. */
  ports?: { c2s?: number; component?: number };
}

export interface ProsodyInstance {
  version: ProsodyVersion;
  c2sPort: number;
  componentPort: number;
  dir: string;
  logFile: string;
  /** Reads Prosody's debug log so far. */
  log(): string;
  stop(): Promise<void>;
  /** Stops, optionally stays down for `downtimeMs`, starts again on the same ports. */
  restart(opts?: { downtimeMs?: number }): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

// runuser does not reliably take prosody down with it, so each server runs in
// its own process group and we signal the group (only ever our own child's).
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const lua = (v: string | number | boolean): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

function renderConfig(dir: string, c2sPort: number, componentPort: number, opts: ProsodyOptions): string {
  const modules = ['disco', 'roster', 'saslauth', 'ping', ...(opts.modules ?? [])];
  const pluginPaths = [join(dir, 'plugins'), ...(opts.pluginDir ? [opts.pluginDir] : [])];
  const lines = [
    `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
    `data_path = ${lua(join(dir, 'data'))}`,
    `plugin_paths = { ${pluginPaths.map(lua).join('; ')} }`,
    'daemonize = false',
    `log = { debug = ${lua(join(dir, 'prosody.log'))} }`,
    `modules_enabled = { ${modules.map(lua).join('; ')} }`,
    'modules_disabled = { "s2s" }',
    `c2s_ports = { ${c2sPort} }`,
    'c2s_interfaces = { "127.0.0.1" }',
    's2s_ports = { }',
    `component_ports = { ${componentPort} }`,
    'component_interface = "127.0.0.1"',
    'c2s_require_encryption = false',
    'allow_unencrypted_plain_auth = true',
    'authentication = "internal_plain"',
    'storage = "internal"',
    opts.extraConfig ?? '',
    '',
  ];
  for (const vh of opts.virtualHosts ?? ['localhost']) {
    const { host, options = {} } = typeof vh === 'string' ? { host: vh } : vh;
    lines.push(`VirtualHost ${lua(host)}`);
    for (const [k, v] of Object.entries(options)) lines.push(`  ${k} = ${lua(v)}`);
    lines.push('');
  }
  for (const c of opts.components) {
    lines.push(`Component ${lua(c.domain)}`, `  component_secret = ${lua(c.secret)}`, '');
  }
  return lines.join('\n');
}

function waitForPort(port: number, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`prosody exited (${child.exitCode ?? child.signalCode}) before listening:\n${output()}`));
        return;
      }
      const sock = connect({ port, host: '127.0.0.1' });
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`prosody did not listen on ${port} within ${timeoutMs} ms:\n${output()}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export async function startProsody(opts: ProsodyOptions): Promise<ProsodyInstance> {
  installExitHook();
  const uid = Number(execFileSync('id', ['-u', 'prosody']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'prosody']).toString().trim());
  const dir = mkdtempSync(join(tmpdir(), 'prosody-test-'));
  for (const sub of ['data', 'plugins']) mkdirSync(join(dir, sub));
  const c2sPort = opts.ports?.c2s ?? (await freePort());
  const componentPort = opts.ports?.component ?? (await freePort());
  const configFile = join(dir, 'prosody.cfg.lua');
  const logFile = join(dir, 'prosody.log');
  writeFileSync(configFile, renderConfig(dir, c2sPort, componentPort, opts));
  for (const p of [dir, join(dir, 'data'), join(dir, 'plugins'), configFile]) chownSync(p, uid, gid);

  let child: ChildProcess | undefined;
  let output = '';

  const launch = async (): Promise<void> => {
    output = '';
    const proc = spawn('runuser', ['-u', 'prosody', '--', prosodyBinary(opts.version ?? '0.12'), '-F', '--config', configFile], {
      cwd: dir,
      detached: true, // own process group: see killGroup
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const collect = (b: Buffer): void => {
      output = (output + b.toString()).slice(-20_000);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    // Both listeners: Prosody opens them one after the other.
    await waitForPort(componentPort, proc, () => output, opts.startTimeoutMs ?? 15_000);
    await waitForPort(c2sPort, proc, () => output, opts.startTimeoutMs ?? 15_000);
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    killGroup(proc, 'SIGTERM');
    const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  await launch();

  return {
    version: opts.version ?? '0.12',
    c2sPort,
    componentPort,
    dir,
    logFile,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async stop() {
      await halt();
      if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    },
    async restart({ downtimeMs = 0 } = {}) {
      await halt();
      if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
      await launch();
    },
  };
}
