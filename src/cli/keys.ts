import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { exportPKCS8, importJWK, type CryptoKey, type JWK } from 'jose';
import { generateSigningKey, rotateKeys, type SigningAlg } from '../oauth/tokens/keys.js';
import { configFrom, sharedStore } from './context.js';
import { CliError, EXIT } from './errors.js';

export function keysCommand(): Command {
  const keys = new Command('keys').description('manage the token signing keys');
  const alg = () => new Option('--alg <alg>', 'key algorithm (default: signing_algorithm)').choices(['ES256', 'EdDSA']);

  keys
    .command('generate')
    .description('create the first signing key in the store, or with --out write a private key file for signing_key_file')
    .addOption(alg())
    .option('--out <file>', 'write a PKCS#8 PEM private key to this file (mode 0600) instead of the store')
    .action(async (opts: { alg?: SigningAlg; out?: string }, cmd: Command) => {
      const loaded = await configFrom(cmd);
      const algorithm = opts.alg ?? loaded.config.signing_algorithm;
      const key = await generateSigningKey(algorithm, 0);
      if (opts.out) {
        const pem = await exportPKCS8((await importJWK(key.privateJwk as JWK, algorithm, { extractable: true })) as CryptoKey);
        await writeFile(opts.out, pem, { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
          throw new CliError(`cannot write ${opts.out}: ${err.code ?? err.message}`, err.code === 'EEXIST' ? EXIT.FAILED : EXIT.USAGE);
        });
        process.stdout.write(`wrote ${algorithm} key ${key.kid} to ${opts.out}\n`);
        return;
      }
      const store = await sharedStore(loaded);
      try {
        const after = await store.initSigningKeys(key);
        if (after.length !== 1 || after[0]!.kid !== key.kid) {
          throw new CliError('signing keys exist already; use `xmpp-oauth keys rotate` to replace them', EXIT.FAILED);
        }
        process.stdout.write(`generated ${algorithm} key ${key.kid}\n`);
      } finally {
        await store.close();
      }
    });

  keys
    .command('rotate')
    .description('publish a new key now; it starts signing after --delay, and old keys stay published until their tokens expire')
    .addOption(alg())
    .option('--delay <seconds>', 'seconds between publishing and signing (longer than JWKS caching: 300 s)', '600')
    .action(async (opts: { alg?: SigningAlg; delay: string }, cmd: Command) => {
      const delay = Number(opts.delay);
      if (!Number.isInteger(delay) || delay < 0) throw new CliError('--delay must be a whole number of seconds', EXIT.USAGE);
      const loaded = await configFrom(cmd);
      const store = await sharedStore(loaded);
      try {
        const ttl = Math.max(loaded.config.access_token_ttl, 3600);
        const key = await rotateKeys(store, opts.alg ?? loaded.config.signing_algorithm, delay, ttl);
        process.stdout.write(`new key ${key.kid} published; signs from ${new Date(key.activatesAt).toISOString()}\n`);
      } finally {
        await store.close();
      }
    });

  keys
    .command('list')
    .description('list the keys in the store with their schedule')
    .action(async (_opts: unknown, cmd: Command) => {
      const store = await sharedStore(await configFrom(cmd));
      try {
        const iso = (t?: number) => (t ? new Date(t).toISOString() : '-');
        for (const k of await store.listSigningKeys()) {
          process.stdout.write(`${k.kid}\t${k.alg}\tsigns-from=${iso(k.activatesAt)}\tretired=${iso(k.retiredAt)}\tunpublished=${iso(k.expiresAt)}\n`);
        }
      } finally {
        await store.close();
      }
    });
  return keys;
}
