// Placeholder until the external-auth bridge lands (issue 5).
import { Command } from 'commander';

export function extauthCommand(): Command {
  return new Command('extauth').description('external-auth bridge for XMPP servers (stdin/stdout)');
}
