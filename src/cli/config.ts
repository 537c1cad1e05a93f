import { Command } from 'commander';
import { printableConfig } from '../config/print.js';
import { configReference } from '../config/reference.js';
import { isShared, storeOptionsFrom } from '../store/index.js';
import { configFrom } from './context.js';

export function configCommand(): Command {
  const config = new Command('config').description('inspect the configuration');
  config
    .command('check')
    .description('validate the configuration and print the effective values, secrets masked')
    .action(async (_opts: unknown, cmd: Command) => {
      const loaded = await configFrom(cmd);
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

function envNote(): string {
  const n = Object.keys(process.env).filter((k) => k.startsWith('XMPP_OAUTH_') && k !== 'XMPP_OAUTH_CONFIG').length;
  return n ? `, ${n} environment override${n > 1 ? 's' : ''}` : '';
}
