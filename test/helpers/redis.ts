// Throwaway redis-server for tests: loopback only, a free port, its own temp
// dir, killed when the test process exits (even if a test forgets stop()).
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisOptions {
  /** Enable the append-only file, so data survives restart(). */
  persist?: boolean;
  /** AOF fsync policy with persist (default 'always'; the soak runs production's 'everysec'). */
  appendfsync?: 'always' | 'everysec';
  startTimeoutMs?: number;
}

export interface RedisInstance {
  url: string;
  port: number;
  dir: string;
  /** Kills the server and removes its dir. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL unless told) but keeps its dir and port: an outage that start() or restart() ends. */
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts it again after kill(), on the same port and dir. */
  start(): Promise<void>;
  /** Kills (SIGKILL unless told) and starts it again on the same port and dir (data kept only with persist). */
  restart(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}

const live = new Set<ChildProcess>();
const killAll = () => {
  for (const child of live) child.kill('SIGKILL');
};
process.on('exit', killAll);
// A signal (test runner timeout, Ctrl-C) skips 'exit' handlers: kill, then
// re-raise so the default action (terminate) still happens.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.kill(process.pid, sig);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One raw PING; resolves true on +PONG (a loading server answers -LOADING). */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisInstance> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'xo-redis-'));
  const timeout = opts.startTimeoutMs ?? 10_000;
  let child: ChildProcess | undefined;
  let log = '';

  async function start(): Promise<void> {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', opts.persist ? 'yes' : 'no',
      '--appendfsync', opts.appendfsync ?? 'always',
      '--daemonize', 'no',
      '--protected-mode', 'yes',
      '--loglevel', 'warning',
    ];
    const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    live.add(proc);
    proc.stdout?.on('data', (d) => (log += d.toString()));
    proc.stderr?.on('data', (d) => (log += d.toString()));
    let exited = false;
    proc.once('exit', () => {
      exited = true;
      live.delete(proc);
    });

    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`redis-server exited during start-up:\n${log}`);
      if (await pingOnce(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not answer PING within ${timeout} ms:\n${log}`);
  }

  async function kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await gone;
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    kill,
    start,
    async restart(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') {
      await kill(signal);
      await start();
    },
  };
}

/**
 * For a describe block: a throwaway Redis and one ioredis client on it,
 * started before its tests and stopped after them. Read `client` inside tests.
 */
export function useRedisClient(): { readonly client: Redis; readonly redis: RedisInstance } {
  let redis: RedisInstance | undefined;
  let client: Redis | undefined;
  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  after(async () => {
    client?.disconnect();
    await redis?.stop();
  });
  return {
    get client() {
      if (!client) throw new Error('the Redis client exists once the suite has started');
      return client;
    },
    get redis() {
      if (!redis) throw new Error('Redis runs once the suite has started');
      return redis;
    },
  };
}
