import cluster from 'node:cluster';
import { Command } from 'commander';
import { createApp, type App } from '../app.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';
import { oneLine, StartupError } from '../util/startup-error.js';
import { isShared, storeOptionsFrom } from '../store/index.js';
import { clusterScrape, isPrimaryOfWorkers, parseWorkers, reportReady, runPrimary, workerIndex } from './cluster.js';
import { configFrom } from './context.js';
import { CliError, EXIT } from './errors.js';
import { sighupReloader } from './reload.js';
import { trialFor, type Trial } from './trial.js';

const SHUTDOWN_LIMIT_MS = 10_000;

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the authorization server (HTTP and the XMPP component link)')
    .option('--workers <n>', 'worker processes sharing the HTTP port (a number, or auto: one per core); one of them holds the XMPP link', '1')
    .action(async (opts: { workers?: string }, cmd: Command) => {
      const workers = parseWorkers(opts.workers);
      const loaded = await configFrom(cmd);
      const trial = trialFor(loaded);
      const config = trial?.config ?? loaded.config;
      if (workers > 1 && (trial || !isShared(storeOptionsFrom(config.redis)))) {
        throw new CliError('--workers needs redis.url (or sentinels / cluster): the in-memory store cannot be shared between worker processes', EXIT.USAGE);
      }
      const index = workerIndex();
      const root = createLogger(config.log.level);
      if (isPrimaryOfWorkers(workers)) {
        root.info({ config: loaded.file ?? 'built-in defaults', workers }, 'starting');
        runPrimary(workers, root);
        // Each worker re-reads the config itself and says what it applied.
        process.on('SIGHUP', () => {
          for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
        });
        return;
      }
      const log = index ? root.child({ worker: index }) : root;
      if (!index) log.info({ config: loaded.file ?? 'built-in defaults', trial: Boolean(trial) }, 'starting');
      // One component link per instance: Prosody admits one per component name.
      const ownOf = (c: Config): Config => (index && index > 1 ? { ...c, xmpp: { ...c.xmpp, enabled: false } } : c);
      const own = ownOf(config);
      const starting = startApp(own, log, trial, index ? clusterScrape() : undefined);
      // Registered before the start completes: SIGHUP's default action would end the process.
      const reread = async () => {
        const again = await configFrom(cmd);
        return { ...again, config: ownOf(again.config) };
      };
      process.on('SIGHUP', sighupReloader({ app: starting, read: reread, root, log }));
      const app = await starting;
      await trial?.announce(app, log);
      if (index) reportReady();

      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        // Bound the shutdown so a stuck peer cannot keep the process alive.
        setTimeout(() => {
          log.warn('shutdown took too long; exiting');
          process.exit(1);
        }, SHUTDOWN_LIMIT_MS).unref();
        app.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'error during shutdown');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}

/**
 * Builds and starts the app. A failure reaches the operator as one line (main
 * prints it and exits non-zero); createApp/start have closed what they opened.
 */
async function startApp(config: Config, log: Logger, trial: Trial | undefined, scrape?: () => Promise<string>): Promise<App> {
  try {
    const app = await createApp(config, log, { trial: trial?.notice, clusterScrape: scrape });
    await app.start();
    return app;
  } catch (err) {
    if (err instanceof StartupError || err instanceof ConfigError) throw err;
    // Unforeseen: still one line; the stack goes to the debug log.
    log.debug({ err }, 'start-up failed');
    throw new StartupError(oneLine((err as Error)?.message ?? String(err)), 'this is unexpected: set log.level to debug for the details, and please report it', { cause: err });
  }
}
