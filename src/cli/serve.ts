import { Command } from 'commander';
import { createApp } from '../app.js';
import { createLogger } from '../log.js';
import { configFrom } from './context.js';
import { trialFor } from './trial.js';

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
      const app = await createApp(config, log, { trial: trial?.notice });
      await app.start();
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
