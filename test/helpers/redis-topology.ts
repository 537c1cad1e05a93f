// Throwaway Redis topologies for the scale-out tests, on loopback only:
//  - startCluster(): three masters with `cluster-enabled yes`, joined by
//    `redis-cli --cluster create ... --cluster-replicas 0`;
//  - startSentinelSet(): one primary, one replica (`replicaof`) and one sentinel
//    with short timeouts, so a failover finishes in a few seconds.
//  - startTlsRedis(): one node that speaks only TLS.
// Every process runs in its own temp dir under os.tmpdir() and is killed by
// stop(), and in any case when the test process exits. With `tls`, every
// process listens on a TLS port only (and replicates over TLS).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { GiveUp, waitFor } from './wait.js';

const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';

const live = new Set<ChildProcess>();
const killAll = () => {
  for (const child of live) child.kill('SIGKILL');
};
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.kill(process.pid, sig);
  });
}

/** Runs redis-cli against a loopback port; resolves its stdout (rejects on a non-zero exit). */
export function redisCli(port: number, ...args: string[]): Promise<string> {
  return redisCliAuth(undefined, port, ...args);
}

/** Certificate files for TLS-only processes (see test/helpers/tls-certs.ts). */
export interface RedisTlsFiles {
  ca: string;
  cert: string;
  key: string;
  /** Require client certificates (`tls-auth-clients yes`); default `optional`. */
  requireClientCert?: boolean;
  /** For redis-cli when client certificates are required. */
  clientCert?: string;
  clientKey?: string;
}

/** redis-cli with a password (through REDISCLI_AUTH, so it is not on a command line). */
export function redisCliAuth(password: string | undefined, port: number, ...args: string[]): Promise<string> {
  return redisCliWith({ password }, port, ...args);
}

/** redis-cli with a password and/or TLS. */
export function redisCliWith({ password, tls }: { password?: string; tls?: RedisTlsFiles }, port: number, ...args: string[]): Promise<string> {
  const env = password ? { ...process.env, REDISCLI_AUTH: password } : process.env;
  const tlsArgs = tls ? ['--tls', '--cacert', tls.ca, ...(tls.clientCert ? ['--cert', tls.clientCert, '--key', tls.clientKey!] : [])] : [];
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, [...tlsArgs, '-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000, env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** One redis-server (or sentinel) process; `args` may start with a config file path. */
export interface RedisProcess {
  port: number;
  dir: string;
  log(): string;
  /** SIGKILL, like a machine dying; resolves once the process is gone. */
  kill(): Promise<void>;
  alive(): boolean;
}

async function spawnRedis(port: number, dir: string, args: string[], password?: string, tls?: RedisTlsFiles): Promise<RedisProcess> {
  let log = '';
  const proc = spawn(REDIS_SERVER, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  let exited = false;
  proc.once('exit', () => {
    exited = true;
    live.delete(proc);
  });
  const handle: RedisProcess = {
    port,
    dir,
    log: () => log,
    alive: () => !exited,
    async kill() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGKILL');
      await gone;
    },
  };
  try {
    await waitFor(`redis on port ${port} to answer PING`, async () => {
      if (exited) throw new GiveUp(`exited during start-up:\n${log}`);
      return (await redisCliWith({ password, tls }, port, 'PING')).trim() === 'PONG';
    }, { timeoutMs: 10_000, intervalMs: 100 });
  } catch (err) {
    await handle.kill();
    throw err;
  }
  return handle;
}

const COMMON = (port: number, dir: string, tls?: RedisTlsFiles) => [
  ...(tls ? ['--port', '0', ...TLS_ARGS(port, tls)] : ['--port', String(port)]),
  '--bind', '127.0.0.1',
  '--dir', dir,
  '--save', '',
  '--appendonly', 'no',
  '--daemonize', 'no',
  '--protected-mode', 'yes',
  '--loglevel', 'warning',
];

const TLS_ARGS = (port: number, tls: RedisTlsFiles) => [
  '--tls-port', String(port),
  '--tls-cert-file', tls.cert,
  '--tls-key-file', tls.key,
  '--tls-ca-cert-file', tls.ca,
  '--tls-auth-clients', tls.requireClientCert ? 'yes' : 'optional',
  '--tls-replication', 'yes',
  '--tls-cluster', 'yes',
];

/** One redis-server that accepts TLS connections only. */
export async function startTlsRedis(tls: RedisTlsFiles): Promise<RedisProcess & { stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'xo-tls-redis-'));
  const port = await freePort();
  const proc = await spawnRedis(port, dir, COMMON(port, dir, tls), undefined, tls);
  return {
    ...proc,
    async stop() {
      await proc.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- Cluster

export interface RedisCluster {
  /** Seed nodes as `host:port`, the form `redis.cluster` takes. */
  nodes: string[];
  ports: number[];
  processes: RedisProcess[];
  stop(): Promise<void>;
}

/** Three masters, all 16384 slots assigned, cluster_state:ok on every node. */
export async function startCluster(masters = 3, { tls }: { tls?: RedisTlsFiles } = {}): Promise<RedisCluster> {
  const redisCli = (port: number, ...args: string[]) => redisCliWith({ tls }, port, ...args);
  const root = mkdtempSync(join(tmpdir(), 'xo-cluster-'));
  const processes: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const nodeDir = mkdtempSync(join(root, `n${i}-`));
      processes.push(
        await spawnRedis(port, nodeDir, [
          ...COMMON(port, nodeDir, tls),
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(nodeDir, 'nodes.conf'),
          '--cluster-node-timeout', '2000',
        ], undefined, tls),
      );
    }
    const nodes = processes.map((p) => `127.0.0.1:${p.port}`);
    await new Promise<void>((resolve, reject) => {
      const tlsArgs = tls ? ['--tls', '--cacert', tls.ca, ...(tls.clientCert ? ['--cert', tls.clientCert, '--key', tls.clientKey!] : [])] : [];
      execFile(REDIS_CLI, [...tlsArgs, '--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}\n${stderr}`));
        else resolve();
      });
    });
    await waitFor('cluster_state:ok on every node', async () => {
      const infos = await Promise.all(processes.map((p) => redisCli(p.port, 'CLUSTER', 'INFO')));
      return infos.every((i) => i.includes('cluster_state:ok') && i.includes(`cluster_known_nodes:${masters}`));
    }, { timeoutMs: 20_000, intervalMs: 100 });
    return { nodes, ports: processes.map((p) => p.port), processes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------- Sentinel

export interface SentinelSet {
  /** Sentinel addresses as `host:port`, the form `redis.sentinels` takes. */
  sentinels: string[];
  /** The master group name, for `redis.name`. */
  name: string;
  primary: RedisProcess;
  replica: RedisProcess;
  sentinel: RedisProcess;
  /** The port the sentinel currently names as the master. */
  masterPort(): Promise<number>;
  /** `WAIT 1 <ms>` on the current primary: resolves the number of replicas that acknowledged every write so far. */
  waitForReplica(timeoutMs?: number): Promise<number>;
  /** Resolves once the sentinel names a master other than `oldPort`, and that master accepts writes. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export const SENTINEL_DOWN_AFTER_MS = 1000;

/**
 * `password`: every process requires it (data nodes `requirepass` + `masterauth`,
 * the sentinel `requirepass` + `sentinel auth-pass`), as a hardened set would.
 */
export async function startSentinelSet(name = 'mymaster', { password, tls }: { password?: string; tls?: RedisTlsFiles } = {}): Promise<SentinelSet> {
  const redisCli = (port: number, ...args: string[]) => redisCliWith({ password, tls }, port, ...args);
  const auth = password ? ['--requirepass', password, '--masterauth', password] : [];
  const root = mkdtempSync(join(tmpdir(), 'xo-sentinel-'));
  const started: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const [pPort, rPort, sPort] = [await freePort(), await freePort(), await freePort()];
    const pDir = mkdtempSync(join(root, 'primary-'));
    const rDir = mkdtempSync(join(root, 'replica-'));
    const sDir = mkdtempSync(join(root, 'sentinel-'));
    const primary = await spawnRedis(pPort, pDir, [...COMMON(pPort, pDir, tls), ...auth], password, tls);
    started.push(primary);
    const replica = await spawnRedis(rPort, rDir, [...COMMON(rPort, rDir, tls), ...auth, '--replicaof', '127.0.0.1', String(pPort)], password, tls);
    started.push(replica);
    await waitFor('the replica to sync with the primary', async () => {
      return (await redisCli(rPort, 'INFO', 'replication')).includes('master_link_status:up');
    }, { timeoutMs: 10_000, intervalMs: 100 });

    // Sentinel rewrites its config file, so it must be a writable file of its own.
    const conf = join(sDir, 'sentinel.conf');
    writeFileSync(conf, [
      ...(tls
        ? ['port 0', `tls-port ${sPort}`, `tls-cert-file ${tls.cert}`, `tls-key-file ${tls.key}`, `tls-ca-cert-file ${tls.ca}`,
            `tls-auth-clients ${tls.requireClientCert ? 'yes' : 'optional'}`, 'tls-replication yes']
        : [`port ${sPort}`]),
      'bind 127.0.0.1',
      `dir ${sDir}`,
      'daemonize no',
      'loglevel warning',
      `sentinel monitor ${name} 127.0.0.1 ${pPort} 1`,
      `sentinel down-after-milliseconds ${name} ${SENTINEL_DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
      ...(password ? [`requirepass ${password}`, `sentinel auth-pass ${name} ${password}`] : []),
      '',
    ].join('\n'));
    const sentinel = await spawnRedis(sPort, sDir, [conf, '--sentinel'], password, tls);
    started.push(sentinel);
    // A failover needs the sentinel to know the replica (learnt from the primary's INFO, every 10 s at most).
    await waitFor('the sentinel to discover the replica', async () => {
      const out = await redisCli(sPort, 'SENTINEL', 'REPLICAS', name);
      return out.includes(String(rPort));
    }, { timeoutMs: 20_000, intervalMs: 100 });

    const masterPort = async () => {
      const out = (await redisCli(sPort, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)).trim().split('\n');
      return Number(out[1]);
    };
    return {
      sentinels: [`127.0.0.1:${sPort}`],
      name,
      primary,
      replica,
      sentinel,
      masterPort,
      async waitForReplica(timeoutMs = 1000) {
        return Number((await redisCli(await masterPort(), 'WAIT', '1', String(timeoutMs))).trim());
      },
      async waitForFailover(oldPort, timeoutMs = 20_000) {
        let now = oldPort;
        await waitFor('the sentinel to promote the replica', async () => {
          now = await masterPort();
          if (now === oldPort) return false;
          return (await redisCli(now, 'INFO', 'replication')).includes('role:master');
        }, { timeoutMs: timeoutMs, intervalMs: 100 });
        return now;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
