import { Command } from 'commander';
import { Accounts, AccountError } from '../accounts/accounts.js';
import { silentLogger } from '../log.js';
import { changePassword, createAccount, removeAccount } from '../oauth/account-lifecycle.js';
import { disableAccount, enableAccount } from '../oauth/account-admin.js';
import type { Store } from '../store/types.js';
import { configFrom, sharedStore } from './context.js';
import { CliError, EXIT } from './errors.js';
import { promptNewPassword, readStdinSecret } from './prompt.js';

export function userCommand(): Command {
  const user = new Command('user').description('manage local XMPP accounts (needs redis.url)');

  user
    .command('add')
    .description('create an account')
    .argument('<jid>', 'bare JID, e.g. alice@example.org')
    .option('--password-stdin', 'read the password from standard input instead of prompting')
    .action(async (jid: string, opts: { passwordStdin?: boolean }, cmd: Command) => {
      const password = await readPassword(opts);
      await withAccounts(cmd, async (accounts, store) => {
        const bare = await createAccount({ accounts, store, log: silentLogger }, jid, password, 'cli');
        process.stdout.write(`created ${bare}\n`);
      });
    });

  user
    .command('passwd')
    .description("set an account's password")
    .argument('<jid>', 'bare JID')
    .option('--password-stdin', 'read the password from standard input instead of prompting')
    .option('--revoke-grants', 'also revoke every application the account approved (its tokens stop working)')
    .action(async (jid: string, opts: { passwordStdin?: boolean; revokeGrants?: boolean }, cmd: Command) => {
      const password = await readPassword(opts);
      await withAccounts(cmd, async (accounts, store) => {
        const { revokedGrants } = await changePassword({ accounts, store, log: silentLogger }, jid, password, {
          revokeGrants: Boolean(opts.revokeGrants),
          by: 'cli',
        });
        const revoked = opts.revokeGrants ? `, ${revokedGrants} grant(s) revoked` : '';
        process.stdout.write(`password changed for ${jid}; its web sessions ended${revoked}\n`);
      });
    });

  user
    .command('remove')
    .description('delete an account and revoke every grant it made')
    .argument('<jid>', 'bare JID')
    .action(async (jid: string, _opts: unknown, cmd: Command) => {
      await withAccounts(cmd, async (accounts, store) => {
        await removeAccount({ accounts, store, log: silentLogger }, jid, 'cli');
        process.stdout.write(`removed ${jid}\n`);
      });
    });

  user
    .command('disable')
    .description('stop every login of an account and revoke all its grants and app passwords')
    .argument('<jid>', 'bare JID')
    .action(async (jid: string, _opts: unknown, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const r = await disableAccount({ store, log: silentLogger }, jid, 'admin (command line)');
        if (!r.ok) throw refused(r.reason, jid);
        process.stdout.write(`disabled ${jid}; revoked ${r.revoked} grant(s)\n`);
      });
    });

  user
    .command('enable')
    .description('let a disabled account log in again (revoked grants stay revoked)')
    .argument('<jid>', 'bare JID')
    .action(async (jid: string, _opts: unknown, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const r = await enableAccount({ store, log: silentLogger }, jid, 'admin (command line)');
        if (!r.ok) throw refused(r.reason, jid);
        process.stdout.write(`enabled ${jid}\n`);
      });
    });

  user
    .command('list')
    .description('list accounts, one bare JID a line')
    .action(async (_opts: unknown, cmd: Command) => {
      await withAccounts(cmd, async (accounts) => {
        for (const jid of await accounts.list()) process.stdout.write(`${jid}\n`);
      });
    });

  return user;
}

async function readPassword(opts: { passwordStdin?: boolean }): Promise<string> {
  try {
    return opts.passwordStdin ? await readStdinSecret() : await promptNewPassword();
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.USAGE);
  }
}

async function withStore(cmd: Command, fn: (store: Store) => Promise<void>): Promise<void> {
  await withLoadedStore(await configFrom(cmd), fn);
}

async function withLoadedStore(loaded: Awaited<ReturnType<typeof configFrom>>, fn: (store: Store) => Promise<void>): Promise<void> {
  const store: Store = await sharedStore(loaded);
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

async function withAccounts(cmd: Command, fn: (accounts: Accounts, store: Store) => Promise<void>): Promise<void> {
  const loaded = await configFrom(cmd);
  await withLoadedStore(loaded, async (store) => {
    try {
      await fn(new Accounts(store, loaded.config.login_throttle, silentLogger, loaded.config.scram), store);
    } catch (err) {
      if (err instanceof AccountError) {
        throw new CliError(err.message, err.code === 'bad-jid' || err.code === 'bad-password' ? EXIT.USAGE : EXIT.FAILED);
      }
      throw err;
    }
  });
}

/** disable/enable refused: a bad JID is a usage error, a missing account a failure. */
function refused(reason: 'bad-jid' | 'missing', jid: string): CliError {
  return reason === 'bad-jid' ? new CliError(`not a bare JID: ${jid}`, EXIT.USAGE) : new CliError(`no account ${jid}`, EXIT.FAILED);
}
