// An existing Prosody server's accounts, made the way its operator made them:
// `prosodyctl register` into internal_hashed file storage, and Prosody's own
// migrator writing XEP-0227. Everything stays in throwaway directories (the
// migrator's launcher is copied with its data directory pointed there).
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProsodyInstance } from './prosody.js';

const asProsody = (cmd: string, args: string[], input?: string) =>
  execFileSync('runuser', ['-u', 'prosody', '--', cmd, ...args], { input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 }).toString();

/** `prosodyctl register USER HOST PASSWORD` against a test Prosody's own config. */
export function prosodyctlRegister(prosody: ProsodyInstance, user: string, host: string, password: string): void {
  const ctl = prosody.version === '13' ? join(process.env.PROSODY13_ROOT ?? '/opt/prosody13', 'usr/bin/prosodyctl') : 'prosodyctl';
  asProsody(ctl, ['--config', join(prosody.dir, 'prosody.cfg.lua'), 'register', user, host, password]);
}

/** Runs Prosody 0.12's migrator from its file storage to XEP-0227; returns the files it wrote. */
export function exportXep0227(dataDir: string, hosts: string[]): string[] {
  const out = mkdtempSync(join(tmpdir(), 'xep0227-'));
  const launcher = join(out, 'prosody-migrator');
  writeFileSync(launcher, readFileSync('/usr/bin/prosody-migrator', 'utf8').replace(/^CFG_DATADIR=.*$/m, `CFG_DATADIR=${JSON.stringify(out)};`));
  chmodSync(launcher, 0o755);
  const hostTable = hosts.map((h) => `[${JSON.stringify(h)}] = { "accounts" }`).join('; ');
  const config = join(out, 'migrator.cfg.lua');
  writeFileSync(config, `input { type = "internal"; path = ${JSON.stringify(dataDir)}; hosts = { ${hostTable} } }\noutput { type = "xep0227"; }\n`);
  for (const p of [out, launcher, config]) chownSync(p, Number(execFileSync('id', ['-u', 'prosody']).toString()), Number(execFileSync('id', ['-g', 'prosody']).toString()));
  asProsody('lua5.4', [launcher, '--config', config, 'input', 'output']);
  return readdirSync(out).filter((f) => f.endsWith('.xml')).map((f) => join(out, f));
}
