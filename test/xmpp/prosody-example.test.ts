// Issue 15: the example Prosody configuration at the repository root is valid
// Lua 5.4 (what Debian's Prosody 0.12 runs) and passes `prosodyctl check config`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pluginDirWithModule } from '../helpers/prosody-module.js';

const run = promisify(execFile);
const EXAMPLE = fileURLToPath(new URL('../../prosody-example.cfg.lua', import.meta.url));

describe('issue 15: prosody-example.cfg.lua at the repository root', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('issue 15 #3: passes luac5.4 -p', async () => {
    const { stderr } = await run('luac5.4', ['-p', EXAMPLE]);
    assert.equal(stderr, '');
  });

  /**
   * A throwaway config that Includes the example unchanged, then returns to the
   * global section (`Host "*"`) to point data, pid, log and plugins at a temp
   * dir: prosodyctl then never touches the system's Prosody.
   */
  async function check(example: string) {
    const dir = mkdtempSync(join(tmpdir(), 'prosody-example-'));
    dirs.push(dir);
    chmodSync(dir, 0o755);
    for (const sub of ['data', 'certs']) mkdirSync(join(dir, sub));
    const plugins = pluginDirWithModule();
    dirs.push(plugins);
    copyFileSync(example, join(dir, 'example.cfg.lua'));
    const config = join(dir, 'check.cfg.lua');
    writeFileSync(config, [
      `Include ${JSON.stringify(join(dir, 'example.cfg.lua'))}`,
      'Host "*"',
      `data_path = ${JSON.stringify(join(dir, 'data'))}`,
      `pidfile = ${JSON.stringify(join(dir, 'prosody.pid'))}`,
      `log = { debug = ${JSON.stringify(join(dir, 'prosody.log'))} }`,
      `plugin_paths = { ${JSON.stringify(plugins)} }`,
      '',
    ].join('\n'));
    const { stdout: uid } = await run('id', ['-u', 'prosody']);
    const { stdout: gid } = await run('id', ['-g', 'prosody']);
    await run('chown', ['-R', `${uid.trim()}:${gid.trim()}`, dir]);
    chownSync(dir, Number(uid), Number(gid));
    return run('runuser', ['-u', 'prosody', '--', 'prosodyctl', '--config', config, 'check', 'config']).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
    );
  }

  it('issue 15 #3: passes prosodyctl check config (throwaway data dir)', async () => {
    const res = await check(EXAMPLE);
    assert.equal(res.code, 0, res.stdout);
    assert.match(res.stdout, /All checks passed/);
    assert.match(res.stdout, /example\.cfg\.lua/, 'the example itself was loaded');
  });

  it('issue 15 #3: the check does catch a misplaced option (so the pass above means something)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prosody-example-bad-'));
    dirs.push(dir);
    const bad = join(dir, 'bad.cfg.lua');
    writeFileSync(bad, readFileSync(EXAMPLE, 'utf8').replace('\tallow_registration = false', '\tallow_registration = false\n\tc2s_ports = { 5222 }'));
    const res = await check(bad);
    assert.notEqual(res.code, 0);
    assert.match(res.stdout, /c2s_ports/);
  });
});
