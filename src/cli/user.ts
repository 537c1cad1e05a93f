import { Command } from 'commander';
import { Accounts, AccountError } from '../accounts/accounts.js';
import { readProsodyDataDir } from '../import/prosody-data.js';
import { formatReport, importAccounts } from '../import/run.js';
import type { SourceRead } from '../import/types.js';
import { readXep0227File } from '../import/xep0227.js';
import { silentLogger } from '../log.js';
import { changePassword, createAccount, removeAccount } from '../oauth/account-life/account-lifecycle.js';
import { disableAccount, enableAccount } from '../oauth/account-life/account-admin.js';
import { eventLine } from '../oauth/account-life/security-event-text.js';
import { activityFromConfig, configureSecurityEvents, securityEventsOf } from '../oauth/account-life/security-events.js';
import { normaliseJid } from '../accounts/jid.js';
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
    .option('--end-sessions', 'also close the chat sessions that logged in with the old password, on every attached server')
    .action(async (jid: string, opts: { passwordStdin?: boolean; revokeGrants?: boolean; endSessions?: boolean }, cmd: Command) => {
      const password = await readPassword(opts);
      await withAccounts(cmd, async (accounts, store) => {
        const { revokedGrants } = await changePassword({ accounts, store, log: silentLogger }, jid, password, {
          revokeGrants: Boolean(opts.revokeGrants),
          endPasswordSessions: Boolean(opts.endSessions),
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
    .command('activity')
    .description("print an account's recent security events, newest first (as /account/activity shows them)")
    .argument('<jid>', 'bare JID')
    .option('--limit <n>', 'at most this many events (1-100)', '100')
    .action(async (jid: string, opts: { limit: string }, cmd: Command) => {
      const bare = normaliseJid(jid);
      if (!bare) throw new CliError(`not a bare JID: ${jid}`, EXIT.USAGE);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new CliError('--limit must be a whole number from 1 to 100', EXIT.USAGE);
      await withStore(cmd, async (store) => {
        const events = await securityEventsOf({ store }, bare, limit);
        if (events.length === 0) process.stdout.write(`no recorded activity for ${bare}\n`);
        for (const e of events) process.stdout.write(`${eventLine(e)}\n`);
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

  const importer = user.command('import').description('bring over the accounts of an existing Prosody or ejabberd server, with their SCRAM records (no password reset)');
  const run = async (cmd: Command, read: () => Promise<SourceRead>, dryRun: boolean) => {
    const loaded = await configFrom(cmd);
    let source: SourceRead;
    try {
      source = await read();
    } catch (err) {
      throw new CliError((err as Error).message, EXIT.FAILED);
    }
    await withAccounts(cmd, async (accounts, store) => {
      const report = await importAccounts(accounts, store, source, { hosts: loaded.config.xmpp.hosts, dryRun, log: silentLogger });
      process.stdout.write(formatReport(report, dryRun));
    });
  };

  importer
    .command('prosody')
    .description("read a Prosody data directory (file storage, internal_hashed or internal_plain; Prosody 0.12 and 13)")
    .argument('<data-dir>', "Prosody's data_path, e.g. /var/lib/prosody")
    .option('--host <host>', 'only this VirtualHost (repeatable; default: every host found)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--dry-run', 'report what would be imported, write nothing')
    .action(async (dataDir: string, opts: { host: string[]; dryRun?: boolean }, cmd: Command) => {
      await run(cmd, () => readProsodyDataDir(dataDir, opts.host), Boolean(opts.dryRun));
    });

  importer
    .command('xep0227')
    .description("read XEP-0227 files (Prosody's migrator, ejabberd's export_piefxis)")
    .argument('<file...>', 'one or more XEP-0227 XML files')
    .option('--dry-run', 'report what would be imported, write nothing')
    .action(async (files: string[], opts: { dryRun?: boolean }, cmd: Command) => {
      const readAll = async (): Promise<SourceRead> => {
        const all: SourceRead = { accounts: [], problems: [] };
        for (const file of files) {
          const one = await readXep0227File(file);
          all.accounts.push(...one.accounts);
          all.problems.push(...one.problems);
        }
        return all;
      };
      await run(cmd, readAll, Boolean(opts.dryRun));
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
  // Events this command causes (disable, a new password) are kept as the server keeps them.
  configureSecurityEvents(store, activityFromConfig(loaded.config));
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
