// Throwaway ejabberd for integration tests: 23.01 (Debian 12's package) or 24.12
// (Debian 13's, unpacked by scripts/install-ejabberd24.sh and run on the same
// system Erlang). Loopback only, free ports, its own config/spool/log dirs owned
// by the ejabberd user.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export type EjabberdVersion = '23.01' | '24.12';

/** Where scripts/install-ejabberd24.sh unpacked ejabberd 24.12 (EJABBERD24_ROOT overrides). */
export const EJABBERD24_ROOT = process.env.EJABBERD24_ROOT ?? '/opt/ejabberd24';

/** Both generations, newest first: suites that must hold on each loop over these. */
export const EJABBERD_VERSIONS: readonly EjabberdVersion[] = ['24.12', '23.01'];

function ejabberdctl(version: EjabberdVersion): string {
  if (version === '23.01') return 'ejabberdctl';
  const bin = join(EJABBERD24_ROOT, 'usr/sbin/ejabberdctl');
  if (!existsSync(bin)) throw new Error(`ejabberd 24.12 is not at ${bin}: run scripts/install-ejabberd24.sh (or set EJABBERD24_ROOT)`);
  return bin;
}

export interface EjabberdOptions {
  /** Which generation to run (default 23.01, Debian 12's package). */
  version?: EjabberdVersion;
  /** Each component gets its own ejabberd_service listener (shared listeners share routes). */
  components: Array<{ domain: string; secret: string }>;
  hosts?: string[];
  /** Absolute path of the auth program (auth_method external when set, else internal). */
  extauthProgram?: string;
  /** Base URL for oauth_db_type: rest (X-OAUTH2 lookups). */
  extApiUrl?: string;
  /** Sent with every REST call, as ejabberd's ext_api_headers string. */
  extApiHeaders?: string;
  /** Serve mod_http_api on a loopback port, `kick_user` allowed from loopback only (as docs/xmpp-servers.md shows). */
  httpApi?: boolean;
  /** STARTTLS on c2s, required (as contrib/ejabberd/ejabberd-example.yml): 24.12 offers SASL2 only over TLS. */
  tls?: { certFile: string; keyFile: string };
  /** Load mod_auth_fast (XEP-0484; 24.12 only), which our example configuration leaves off. */
  authFast?: boolean;
  startTimeoutMs?: number;
}

export interface EjabberdInstance {
  version: EjabberdVersion;
  c2sPort: number;
  /** With httpApi: mod_http_api's base URL. */
  apiUrl?: string;
  componentPorts: number[];
  dir: string;
  log(): string;
  stop(): Promise<void>;
  restart(opts?: { downtimeMs?: number }): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) killGroup(c, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* gone */
  }
}

let instances = 0;

export async function startEjabberd(opts: EjabberdOptions): Promise<EjabberdInstance> {
  const version = opts.version ?? '23.01';
  const ctl = ejabberdctl(version);
  const uid = Number(execFileSync('id', ['-u', 'ejabberd']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'ejabberd']).toString().trim());
  const dir = mkdtempSync(join(tmpdir(), 'ejabberd-test-'));
  chmodSync(dir, 0o755);
  const etc = join(dir, 'etc');
  for (const sub of [etc, join(dir, 'spool'), join(dir, 'logs')]) mkdirSync(sub);
  const c2sPort = await freePort();
  const componentPorts = await Promise.all(opts.components.map(() => freePort()));
  const apiPort = opts.httpApi ? await freePort() : undefined;
  const distPort = await freePort();
  const hosts = opts.hosts ?? ['localhost'];

  // ejabberd reads the certificate as its own user, from its own folder.
  const pem = opts.tls ? join(etc, 'c2s.pem') : undefined;
  if (opts.tls) writeFileSync(pem!, readFileSync(opts.tls.certFile, 'utf8') + readFileSync(opts.tls.keyFile, 'utf8'));
  const starttls = opts.tls ? ', starttls: true, starttls_required: true' : '';

  const yaml = [
    'hosts:',
    ...hosts.map((h) => `  - ${JSON.stringify(h)}`),
    'loglevel: info',
    'log_rotate_count: 0',
    'language: en',
    ...(opts.extauthProgram
      ? ['auth_method: [external]', `extauth_program: ${JSON.stringify(opts.extauthProgram)}`, 'extauth_pool_size: 1', 'auth_use_cache: false']
      : ['auth_method: [internal]']),
    ...(opts.extApiUrl
      ? ['oauth_db_type: rest', 'oauth_use_cache: false', `ext_api_url: ${JSON.stringify(opts.extApiUrl)}`]
      : []),
    ...(opts.extApiHeaders ? [`ext_api_headers: ${JSON.stringify(opts.extApiHeaders)}`] : []),
    ...(pem ? ['certfiles:', `  - ${JSON.stringify(pem)}`] : []),
    'listen:',
    `  - { port: ${c2sPort}, ip: "127.0.0.1", module: ejabberd_c2s, max_stanza_size: 262144, access: c2s${starttls} }`,
    ...opts.components.map(
      (c, i) =>
        `  - { port: ${componentPorts[i]}, ip: "127.0.0.1", module: ejabberd_service, hosts: { ${JSON.stringify(c.domain)}: { password: ${JSON.stringify(c.secret)} } } }`,
    ),
    ...(apiPort ? [`  - { port: ${apiPort}, ip: "127.0.0.1", module: ejabberd_http, request_handlers: { "/api": mod_http_api } }`] : []),
    ...(apiPort ? ['api_permissions:', '  "xmpp-oauth ends sessions":', '    who:', '      - ip: "127.0.0.1/8"', '    what:', '      - "kick_user"'] : []),
    'acl:',
    '  local:',
    '    user_regexp: ""',
    'access_rules:',
    '  local:',
    '    allow: local',
    '  c2s:',
    '    allow: all',
    'modules:',
    '  mod_disco: {}',
    '  mod_ping: {}',
    '  mod_roster: {}',
    ...(opts.authFast ? ['  mod_auth_fast: {}'] : []),
    '',
  ].join('\n');
  writeFileSync(join(etc, 'ejabberd.yml'), yaml);
  writeFileSync(
    join(etc, 'ejabberdctl.cfg'),
    [
      `ERLANG_NODE=xmppoauth${process.pid}n${instances++}@localhost`,
      'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"',
      `EJABBERD_PID_PATH=${join(dir, 'spool', 'ejabberd.pid')}`,
      `ERL_DIST_PORT=${distPort}`,
      'ERL_EPMD_ADDRESS=127.0.0.1',
      '',
    ].join('\n'),
  );
  copyFileSync('/etc/ejabberd/inetrc', join(etc, 'inetrc'));
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
  chownSync(dir, uid, gid);

  let child: ChildProcess | undefined;
  let output = '';
  const logFile = join(dir, 'logs', 'ejabberd.log');

  const launch = async (): Promise<void> => {
    output = '';
    const proc = spawn(
      ctl,
      ['--config-dir', etc, '--config', join(etc, 'ejabberd.yml'), '--spool', join(dir, 'spool'), '--logs', join(dir, 'logs'), 'foreground'],
      // Started as the ejabberd user, not through ejabberdctl's `su`: su puts the VM in a session of its
      // own, out of reach of our process-group kill, and the VM then kept this test process alive for
      // minutes through the stdout pipe it inherited.
      { cwd: dir, detached: true, uid, gid, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } },
    );
    child = proc;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const collect = (b: Buffer) => {
      output = (output + b.toString()).slice(-20_000);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    await waitForPort(c2sPort, proc, () => output + readLog(), opts.startTimeoutMs ?? 30_000);
    await Promise.all(componentPorts.map((p) => waitForPort(p, proc, () => output + readLog(), opts.startTimeoutMs ?? 30_000)));
  };
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    killGroup(proc, 'SIGTERM');
    const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    // The Erlang VM may outlive the shell wrapper for a moment, still holding its
    // node name: a restart before it is gone exits at once. Wait for the group.
    const pid = proc.pid!;
    const groupAlive = () => {
      try {
        process.kill(-pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 100));
    if (groupAlive()) process.kill(-pid, 'SIGKILL');
    for (let i = 0; i < 100 && (await portOpen(c2sPort)); i++) await new Promise((r) => setTimeout(r, 100));
  };

  await launch();
  return {
    version,
    c2sPort,
    apiUrl: apiPort ? `http://127.0.0.1:${apiPort}/api` : undefined,
    componentPorts,
    dir,
    log: () => output + readLog(),
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart({ downtimeMs = 0 } = {}) {
      await halt();
      if (downtimeMs) await new Promise((r) => setTimeout(r, downtimeMs));
      await launch();
    },
  };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });
}

async function waitForPort(port: number, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`ejabberd exited (${child.exitCode ?? child.signalCode}) before listening:\n${output().slice(-4000)}`);
    }
    if (await portOpen(port)) return;
    if (Date.now() > deadline) throw new Error(`ejabberd did not listen on ${port} within ${timeoutMs} ms:\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
