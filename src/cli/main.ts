import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { StartupError } from '../util/startup-error.js';
import { configCommand } from './config.js';
import { CliError, EXIT } from './errors.js';
import { clientCommand } from './client.js';
import { extauthCommand } from './extauth.js';
import { keysCommand } from './keys.js';
import { serveCommand } from './serve.js';
import { userCommand } from './user.js';

const program = new Command('xmpp-oauth')
  .description('OAuth 2.0 / OpenID Connect authorization server for XMPP')
  .option('-c, --config <file>', 'YAML configuration file (default: $XMPP_OAUTH_CONFIG, else built-in defaults)')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(serveCommand());
program.addCommand(userCommand());
program.addCommand(configCommand());
program.addCommand(keysCommand());
program.addCommand(clientCommand());
program.addCommand(extauthCommand());
for (const cmd of program.commands) {
  cmd.exitOverride();
  for (const sub of cmd.commands) sub.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = exitCodeFor(err);
  // A failed command must end even if something it opened still holds the
  // event loop (a supervisor waits for the exit): give output a moment, then go.
  setTimeout(() => process.exit(), 250).unref();
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; every usage mistake exits 2.
    return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`xmpp-oauth: config error: ${err.message}\n`);
    return EXIT.USAGE;
  }
  if (err instanceof StartupError) {
    process.stderr.write(`xmpp-oauth: cannot start: ${err.message}\n`);
    return EXIT.FAILED;
  }
  if (err instanceof CliError) {
    process.stderr.write(`xmpp-oauth: ${err.message}\n`);
    return err.exitCode;
  }
  process.stderr.write(`xmpp-oauth: ${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT.FAILED;
}
