import { Command } from 'commander';
import { randomToken, sha256Hex } from '../util/crypto.js';
import { CliError, EXIT } from './errors.js';
import { readStdinSecret } from './prompt.js';

export function clientCommand(): Command {
  const client = new Command('client').description('help declaring static clients in the config file');
  client
    .command('hash-secret')
    .description('print the secret_hash for a client secret read from standard input')
    .action(async () => {
      const secret = await readStdinSecret();
      if (secret.length < 16) throw new CliError('a client secret should be at least 16 characters', EXIT.USAGE);
      process.stdout.write(`sha256:${sha256Hex(secret)}\n`);
    });
  client
    .command('new-secret')
    .description('generate a random client secret; prints the secret (give it to the client) and its secret_hash (put it in the config)')
    .action(() => {
      const secret = randomToken(32);
      process.stdout.write(`client_secret: ${secret}\nsecret_hash: sha256:${sha256Hex(secret)}\n`);
    });
  return client;
}
