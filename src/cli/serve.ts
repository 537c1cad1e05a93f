import { Command } from 'commander';
import { createApp, type App } from '../app.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';
import { oneLine, StartupError } from '../util/startup-error.js';
import { configFrom } from './context.js';
import { trialFor, type Trial } from './trial.js';

const SHUTDOWN_LIMIT_MS = 10_000;

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the authorization server (HTTP and the XMPP component link)')
    .action(async (_opts: unknown, cmd: Command) => {
      const loaded = await configFrom(cmd);
      const trial = trialFor(loaded);
      const config = trial?.config ?? loaded.config;
      const log = createLogger(config.log.level);
      log.info({ config: loaded.file ?? 'built-in defaults', trial: Boolean(trial) }, 'starting');
      const app = await startApp(config, log, trial);
      await trial?.announce(app, log);

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
async function startApp(config: Config, log: Logger, trial: Trial | undefined): Promise<App> {
  try {
    const app = await createApp(config, log, { trial: trial?.notice });
    await app.start();
    return app;
  } catch (err) {
    if (err instanceof StartupError || err instanceof ConfigError) throw err;
    // Unforeseen: still one line; the stack goes to the debug log.
    log.debug({ err }, 'start-up failed');
    throw new StartupError(oneLine((err as Error)?.message ?? String(err)), 'this is unexpected: set log.level to debug for the details, and please report it', { cause: err });
  }
}
