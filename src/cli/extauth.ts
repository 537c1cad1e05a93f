import { Command, Option } from 'commander';
import { runBridge } from '../extauth/bridge.js';
import { framingFor } from '../extauth/framing.js';
import { bridgeIdentity } from '../extauth/server-identity.js';
import { createLogger } from '../log.js';
import { createCore } from '../oauth/core.js';
import { configFrom, sharedStore } from './context.js';

export function extauthCommand(): Command {
  return new Command('extauth')
    .description(
      'external-auth program for XMPP servers: answers auth/isuser/setpass/tryregister/removeuser(3) on stdin/stdout ' +
        '(needs redis.url: it shares state with the server and keeps working while the component link is down)',
    )
    .addOption(
      new Option('--protocol <name>', 'wire format: generic (Prosody mod_auth_external lines) or ejabberd (2-byte length frames)')
        .choices(['generic', 'ejabberd'])
        .makeOptionMandatory(),
    )
    .action(async (opts: { protocol: string }, cmd: Command) => {
      const loaded = await configFrom(cmd);
      // stdout is the protocol channel: logs go to stderr, which both servers keep.
      const log = createLogger(loaded.config.log.level, 2).child({ part: 'extauth', protocol: opts.protocol });
      const store = await sharedStore(loaded, { grantLivenessCache: true });
      let identity;
      try {
        identity = await bridgeIdentity(loaded, store, log);
      } catch (err) {
        await store.close();
        throw err;
      }
      const { config, source, verificationKeys } = identity;
      const { deps, keys } = await createCore(config, store, log, [], verificationKeys);
      log.info({ issuer: config.issuer, hosts: config.xmpp.hosts, from: source === 'store' ? 'the server, through the store' : 'this config' },
        'extauth bridge ready: accepts tokens of this issuer for these hosts');
      try {
        await runBridge({ input: process.stdin, output: process.stdout, framing: framingFor(opts.protocol), core: deps, log });
        log.info('extauth input closed; exiting');
      } finally {
        keys.stop();
        await store.close();
      }
    });
}
