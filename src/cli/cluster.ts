// `serve --workers N|auto`: one primary that only supervises, N workers that
// each run the whole app on the shared HTTP port (node:cluster hands out the
// connections). Exactly one worker holds the XMPP component link, because
// Prosody admits one link per component name; if that worker dies its
// replacement takes the link over.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../log.js';
import { CliError, EXIT } from './errors.js';

/** Environment a worker is started with: its index (1-based); 1 holds the XMPP link. */
// Outside the XMPP_OAUTH_ prefix, which is the config's.
export const WORKER_ENV = 'XO_SERVE_WORKER_INDEX';

/**
 * A back-channel request leaves mostly short-lived garbage, which V8's
 * default young generation (16 MB semi-spaces) scavenges very often: 32 MB cut
 * the server's CPU per request by 16-34 % (refresh, introspection, the 401
 * path) for ~8 MB more RSS (issue 25, the benchmark's scenarios).
 */
export const SEMI_SPACE_FLAG = '--max-semi-space-size=32';
const givesSemiSpace = () => [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-semi-space-size'));
const SHUTDOWN_LIMIT_MS = 10_000;
const RESTART_DELAY_MS = 1_000;

type Message = { type: 'xo:ready' } | { type: 'xo:metrics'; id: number } | { type: 'xo:metrics-reply'; id: number; text?: string; error?: string };

/** `--workers` as a count: a positive integer, or `auto` for one per core. */
export function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new CliError(`--workers must be a whole number from 1 to 256, or auto (got ${JSON.stringify(value)})`, EXIT.USAGE);
  return n;
}

/** The 1-based worker index in a worker process, undefined in a single process or the primary. */
export function workerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const n = Number(process.env[WORKER_ENV]);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** In a worker: tell the primary this worker serves. */
export function reportReady(): void {
  process.send?.({ type: 'xo:ready' } satisfies Message);
}

/** In a worker: the metrics of every worker, aggregated by the primary (prom-client's AggregatorRegistry). */
export function clusterScrape(): () => Promise<string> {
  let next = 0;
  const waiting = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  process.on('message', (msg: Message) => {
    if (msg?.type !== 'xo:metrics-reply') return;
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.text !== undefined) w.resolve(msg.text);
    else w.reject(new Error(msg.error ?? 'no metrics from the primary'));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not answer the metrics request in time'));
      }, 5_000);
      waiting.set(id, {
        resolve: (t) => (clearTimeout(timer), resolve(t)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      process.send?.({ type: 'xo:metrics', id } satisfies Message);
    });
}

/**
 * The primary: forks `count` workers, restarts one that dies while serving,
 * relays SIGTERM/SIGINT to all and exits when they have; exits non-zero at
 * once if a worker fails before it ever served (a bad config or a busy port
 * would fail every replacement too).
 */
export function runPrimary(count: number, log: Logger): void {
  // Workers get the young-generation size the shipped service unit and image set (docs/operations.md), unless told otherwise.
  if (!givesSemiSpace()) cluster.setupPrimary({ execArgv: [...process.execArgv, SEMI_SPACE_FLAG] });
  const aggregator = new AggregatorRegistry();
  const roles = new Map<Worker, number>();
  const served = new Set<number>();
  let stopping = false;
  let ready = 0;

  const fork = (index: number) => {
    const worker = cluster.fork({ [WORKER_ENV]: String(index) });
    roles.set(worker, index);
    worker.on('message', (msg: Message) => {
      if (msg?.type === 'xo:ready') {
        served.add(index);
        if (++ready === count) log.info({ workers: count }, 'all workers serving');
      } else if (msg?.type === 'xo:metrics') {
        aggregator.clusterMetrics().then(
          (text) => worker.send({ type: 'xo:metrics-reply', id: msg.id, text } satisfies Message),
          (err: Error) => worker.send({ type: 'xo:metrics-reply', id: msg.id, error: err.message } satisfies Message),
        );
      }
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    const index = roles.get(worker);
    roles.delete(worker);
    if (stopping) {
      if (roles.size === 0) process.exit(0);
      return;
    }
    if (index === undefined) return;
    if (!served.has(index)) {
      log.error({ worker: index, code, signal }, 'a worker failed to start; stopping');
      stopping = true;
      for (const w of roles.keys()) w.process.kill('SIGTERM');
      process.exitCode = EXIT.FAILED;
      if (roles.size === 0) process.exit(EXIT.FAILED);
      setTimeout(() => process.exit(EXIT.FAILED), SHUTDOWN_LIMIT_MS).unref();
      return;
    }
    log.warn({ worker: index, code, signal, xmpp_link: index === 1 }, 'worker exited; starting a replacement');
    ready--;
    setTimeout(() => !stopping && fork(index), RESTART_DELAY_MS).unref();
  });

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: roles.size }, 'shutting down');
    setTimeout(() => {
      log.warn('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    if (roles.size === 0) process.exit(0);
    for (const w of roles.keys()) w.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  log.info({ workers: count }, 'starting workers');
  for (let i = 1; i <= count; i++) fork(i);
}

export const isPrimaryOfWorkers = (count: number) => count > 1 && cluster.isPrimary;
