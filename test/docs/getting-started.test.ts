// Issue 15: docs/getting-started.md cannot rot. Its ```sh blocks run in order in
// one bash session, as a reader would paste them; blocks marked
// `<!-- doc-test: skip … -->` are replaced by what the marker says. System paths
// and ports are moved into a temporary folder and free ports, by substitution
// listed below, so nothing outside the folder is touched.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { BIN, serveProcess, type ServeProcess } from '../helpers/cli.js';
import { approveDevice } from '../helpers/device.js';
import { authorizeInBrowser } from '../helpers/flow.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOC = join(ROOT, 'docs', 'getting-started.md');

interface Block {
  section: string;
  code: string;
  skip?: string;
}

/** The ```sh blocks, with the heading they sit under and their skip marker. */
function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let section = '';
  let skip: string | undefined;
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) section = line.slice(3);
    const marker = /^<!-- doc-test: skip \((.+)\) -->$/.exec(line);
    if (marker) skip = marker[1];
    if (line === '```sh') {
      const end = lines.indexOf('```', i + 1);
      blocks.push({ section, code: lines.slice(i + 1, end).join('\n'), skip });
      skip = undefined;
      i = end;
    } else if (line.trim() !== '' && !marker) {
      skip = undefined; // a marker applies only to the block right after it
    }
  }
  return blocks;
}

/** One bash session fed block by block, so variables carry over as in a terminal. */
class Session {
  private out = '';
  private readonly bash: ChildProcessWithoutNullStreams;
  private blocks = 0;

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.bash.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    this.bash.stderr.on('data', (d: Buffer) => (this.out += d.toString()));
    this.bash.stdin.write('set -e\n');
  }

  /** Runs `code`; resolves its output, or fails naming the block when a command fails. */
  async run(code: string, timeoutMs = 60_000): Promise<string> {
    const n = this.blocks++;
    const start = this.out.length;
    const done = `__block_${n}_done__`;
    this.bash.stdin.write(`${code}\necho ${done}\n`);
    await waitFor(`block ${n} to finish`, () => {
      if (this.bash.exitCode !== null) throw new Error(`a command failed in:\n${code}\n--- output:\n${this.out.slice(start)}`);
      return this.out.includes(done, start);
    }, { timeoutMs, intervalMs: 20 }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- block:\n${code}\n--- output:\n${this.out.slice(start)}`);
    });
    return this.out.slice(start, this.out.indexOf(done, start));
  }

  set(name: string, value: string): Promise<string> {
    return this.run(`${name}='${value.replace(/'/g, `'\\''`)}'`);
  }

  stop(): void {
    this.bash.stdin.end();
    if (this.bash.exitCode === null) this.bash.kill();
  }
}

describe('issue 15: docs/getting-started.md runs as written', { timeout: 240_000 }, () => {
  const blocks = shellBlocks(readFileSync(DOC, 'utf8'));
  let dir: string;
  let redis: RedisInstance;
  let session: Session;
  const servers: ServeProcess[] = [];
  let substitutions: Array<[string, string]>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'getting-started-'));
    chmodSync(dir, 0o755);
    for (const sub of ['bin', 'data']) mkdirSync(join(dir, sub));
    // What `npm link` makes, on our own PATH only.
    symlinkSync(BIN, join(dir, 'bin', 'xmpp-oauth'));
    redis = await startRedis();
    substitutions = [
      ['/etc/xmpp-oauth', join(dir, 'etc', 'xmpp-oauth')],
      ['/etc/prosody', join(dir, 'etc', 'prosody')],
      ['/usr/local/lib/prosody/modules', join(dir, 'modules')],
      ['/var/lib/prosody', join(dir, 'data')],
      ['redis://127.0.0.1:6379/0', redis.url],
      ['port: 8080', `port: ${await freePort()}`],
      ['xmpp://127.0.0.1:5347', `xmpp://127.0.0.1:${await freePort()}`],
    ];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_')));
    session = new Session(ROOT, { ...env, PATH: `${join(dir, 'bin')}:${process.env.PATH}` });
  });
  after(async () => {
    session?.stop();
    for (const s of servers) await s.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const moved = (code: string) => substitutions.reduce((c, [from, to]) => c.split(from).join(to), code);
  const section = (prefix: string) => blocks.filter((b) => b.section.startsWith(prefix));

  it('has shell blocks for each reader, and says why each skipped one is skipped', () => {
    assert.ok(section('Operator').filter((b) => !b.skip).length >= 4);
    assert.ok(section('Application developer').filter((b) => !b.skip).length >= 4);
    for (const b of blocks.filter((x) => x.skip)) assert.ok(b.skip!.length > 10, `a reason for skipping:\n${b.code}`);
    assert.ok(blocks.some((b) => b.code.includes('npm link')), 'says how to get the command');
  });

  it('issue 15 #8 operator: config, account and Prosody files as written; xmpp-oauth starts on that config', async () => {
    let outputs = '';
    for (const b of section('Operator')) {
      if (b.skip) continue;
      outputs += await session.run(moved(b.code));
    }
    assert.match(outputs, /redis:/, 'config check printed the effective config');
    assert.match(outputs, /created alice@example\.org/);
    assert.match(outputs, /alice@example\.org\n/, 'user list names her');
    assert.match(outputs, /All checks passed/, 'prosodyctl check config passed on the generated Prosody config');
    const config = join(dir, 'etc', 'xmpp-oauth', 'config.yml');
    const server = await serveProcess({}, ['--config', config]);
    servers.push(server);
    const ready = (await (await fetch(`${server.base}/readyz`)).json()) as { store: { ok: boolean; kind: string } };
    assert.deepEqual([ready.store.ok, ready.store.kind], [true, 'redis']);
    assert.ok(!server.lines.some((l) => typeof l.trial === 'object'), 'a configured server is no trial');
    // The account made with the CLI signs in on that server's pages.
    const page = await new FormBrowser().get(`${server.base}/account`);
    assert.equal(page.status, 200);
  });

  it('issue 15 #8 developer and user: register, device flow and code flow with curl against a trial server, approved on the pages', async () => {
    const trial = await serveProcess();
    servers.push(trial);
    const block = await waitFor('the trial block', () => trial.lines.find((l) => typeof l.trial === 'object'));
    const { account } = block.trial as { account: string };
    // The password is printed on stderr, never logged (review #12).
    const password = (await waitFor('the demo password on stderr', () => /Password: +(\S+)\n/.exec(trial.stderr())))[1]!;
    await session.set('ISSUER', trial.base);
    const browser = new FormBrowser();
    let outputs = '';
    for (const b of section('Application developer')) {
      if (b.skip) continue; // ISSUER is set above; CODE below, from the browser
      const out = await session.run(b.code);
      outputs += out;
      const device = /^Open (\S+) and approve$/m.exec(out);
      if (device) {
        // The user: types the code on the device page, signs in, allows.
        const url = new URL(device[1]!);
        const approved = await approveDevice(browser, `${url.origin}${url.pathname}`, url.searchParams.get('user_code')!, { username: account, password });
        assert.equal(approved.status, 200, approved.html.slice(0, 300));
      }
      const authorize = /^(http\S+\/oauth2\/authorize\?\S+)$/m.exec(out);
      if (authorize) {
        const landed = await authorizeInBrowser(browser, authorize[1]!, { username: account, password });
        assert.equal(landed.searchParams.get('state'), 'xyz');
        await session.set('CODE', landed.searchParams.get('code')!);
      }
    }
    assert.match(outputs, /"issuer":"http:\/\/127\.0\.0\.1:\d+"/, 'discovery');
    assert.match(outputs, /"sub":"xmpp:demo@localhost","preferred_username":"demo","jid":"demo@localhost"/, 'userinfo as the doc shows it');
    const answer = outputs.split('\n').find((l) => l.includes('"id_token"'));
    assert.ok(answer, `the code flow answered tokens:\n${outputs}`);
    const tokens = JSON.parse(answer.slice(answer.indexOf('{'))) as Record<string, string>;
    for (const t of ['access_token', 'id_token', 'refresh_token']) assert.ok(tokens[t], t);
  });
});
