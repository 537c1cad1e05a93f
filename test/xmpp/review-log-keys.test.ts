// Issue 22, item 12 (what operators tripped over): every log line is JSON with
// each key once. The revocation push's lines carried `part` twice (its own and
// the link's), which log pipelines read as either value or reject.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { PASSWORD } from '../helpers/flow.js';
import { captureLog } from '../helpers/log-capture.js';
import { attachTo, ourModuleHost, pluginDirWithModule } from '../helpers/prosody-module.js';
import { startProsody, type ProsodyInstance } from '../helpers/prosody.js';
import { STACK_COMPONENT } from '../helpers/prosody-stack.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { revoke, tokensFor } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/** The keys of one JSON object line, in order, repeats kept (JSON.parse would drop them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"(\s*:)?|[{}[\]]/g)) {
    if (m[0] === '{' || m[0] === '[') depth++;
    else if (m[0] === '}' || m[0] === ']') depth--;
    else if (m[2] && depth === 1) keys.push(m[1]!);
  }
  return keys;
}

describe('review #12: log lines name each key once (Prosody 0.12)', { timeout: 120_000 }, () => {
  let prosody: ProsodyInstance;
  let server: TestServer;
  let pluginDir: string;
  const captured = captureLog('debug');

  before(async () => {
    pluginDir = pluginDirWithModule();
    prosody = await startProsody({ version: '0.12', components: [STACK_COMPONENT], pluginDir, virtualHosts: [ourModuleHost(STACK_COMPONENT)] });
    server = await startServer({ xmpp: attachTo(prosody, STACK_COMPONENT) }, { redis: true, log: captured.log });
    await server.app.link!.waitOnline(15_000);
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await server?.stop();
    await prosody?.stop();
    if (pluginDir) rmSync(pluginDir, { recursive: true, force: true });
  });

  it('review #12: the revocation push names its part once; no line repeats a key', async () => {
    const { refresh_token: refreshToken } = await tokensFor(server.url, 'alice@localhost', PASSWORD);
    await revoke(server.url, refreshToken);
    const delivered = await waitFor('the revocation push line', () => captured.raw.find((l) => l.includes('revocation delivered to the XMPP server')), { timeoutMs: 15_000 });
    assert.deepEqual(topLevelKeys(delivered).filter((k) => k === 'part'), ['part'], delivered);
    assert.equal((JSON.parse(delivered) as { part: string }).part, 'revocation-push');
    for (const line of captured.raw) {
      const keys = topLevelKeys(line);
      assert.equal(new Set(keys).size, keys.length, `a key repeated in ${line}`);
    }
  });
});
