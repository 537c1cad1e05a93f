// Issue 22, item 12 (what operators tripped over): every log line is JSON with
// each key once. The revocation push's lines carried `part` twice (its own and
// the link's), which log pipelines read as either value or reject.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORD } from '../helpers/flow.js';
import { captureLog } from '../helpers/log-capture.js';
import type { ProsodyInstance } from '../helpers/prosody.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import type { TestServer } from '../helpers/server.js';
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
  let stack: ProsodyStack | undefined;
  const captured = captureLog('debug');

  before(async () => {
    stack = await startProsodyStack({ version: '0.12', log: captured.log, accounts: { 'alice@localhost': PASSWORD } });
    ({ prosody, server } = stack);
  });
  after(async () => {
    await stack?.stop();
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
