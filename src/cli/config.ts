import { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { printableConfig } from '../config/print.js';
import { configReference } from '../config/reference.js';
import { loadViews } from '../http/views.js';
import { signingKeyFromFile } from '../oauth/tokens/keys.js';
import { isShared, storeOptionsFrom } from '../store/index.js';
import { StartupError } from '../util/startup-error.js';
import { configFrom } from './context.js';
import { CliError, EXIT } from './errors.js';

export function configCommand(): Command {
  const config = new Command('config').description('inspect the configuration');
  config
    .command('check')
    .description('validate the configuration and print the effective values, secrets masked')
    .action(async (_opts: unknown, cmd: Command) => {
      const loaded = await configFrom(cmd);
      await filesUsable(loaded.config);
      process.stdout.write(`# effective configuration (${loaded.file ?? 'built-in defaults'}${envNote()})\n`);
      process.stdout.write(printableConfig(loaded.config));
      if (!isShared(storeOptionsFrom(loaded.config.redis))) {
        process.stdout.write('# note: no redis.url: state is kept in memory and lost on restart\n');
      }
    });
  config
    .command('reference')
    .description('print the table of every option, its type, default and meaning (Markdown)')
    .action(() => {
      process.stdout.write(`${configReference()}\n`);
    });
  return config;
}

/** The files the config names, checked as `serve` will use them: the same one-line problems, before a start. */
async function filesUsable(config: Config): Promise<void> {
  try {
    storeOptionsFrom(config.redis); // reads redis.tls files
    if (config.signing_key_file) await signingKeyFromFile(config.signing_key_file, config.signing_algorithm);
    if (config.template_path) loadViews({ templatePath: config.template_path, siteName: config.site_name });
  } catch (err) {
    if (err instanceof StartupError) throw new CliError(err.message, EXIT.USAGE);
    throw err;
  }
}

function envNote(): string {
  const n = Object.keys(process.env).filter((k) => k.startsWith('XMPP_OAUTH_') && k !== 'XMPP_OAUTH_CONFIG').length;
  return n ? `, ${n} environment override${n > 1 ? 's' : ''}` : '';
}
