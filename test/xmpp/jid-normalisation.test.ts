// JID localparts are normalised with stringprep nodeprep, as Prosody 0.12
// does before it asks us about a user: one name, one account, on every door.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { JidError, normaliseJid, prepLocalpart } from '../../src/accounts/jid.js';
import { parseCommand, runCommand, type Command } from '../../src/extauth/commands.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import type { ProsodyInstance } from '../helpers/prosody.js';
import type { TestServer } from '../helpers/server.js';
import { tokensFor } from '../helpers/tokens.js';
import { chatSession, plainLogin } from '../helpers/xmpp-client.js';

const PASSWORD = 'hello password 1234';
const FRAKTUR = 'ℌ𝔢𝔩𝔩𝔬'; // U+210C then MATHEMATICAL FRAKTUR SMALL E, L, L, O

/** nodeprep as Prosody's util.encodings computes it (ICU), strict about unassigned code points; null when refused. */
function prosodyNodeprep(inputs: string[]): (string | null)[] {
  const script = `
    package.path = "/usr/lib/prosody/?.lua;" .. package.path
    package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath
    local nodeprep = require "util.encodings".stringprep.nodeprep
    for line in io.lines() do
      local out = nodeprep(line, true)
      -- Prosody's SASL refuses an empty result as it refuses a failed one.
      io.write((out and out ~= "") and ("+" .. out) or "-", "\\n")
    end`;
  const out = execFileSync('lua5.4', ['-e', script], { input: `${inputs.join('\n')}\n`, encoding: 'utf8' });
  return out.split('\n').slice(0, inputs.length).map((l) => (l.startsWith('+') ? l.slice(1) : null));
}

const ours = (s: string): string | null => {
  try {
    return prepLocalpart(s);
  } catch (err) {
    assert.ok(err instanceof JidError, String(err));
    return null;
  }
};

describe('issue 12 #10: localparts are normalised as the XMPP server does (nodeprep)', () => {
  const CASES: [name: string, input: string, expected: string | null][] = [
    ['a confusable fraktur name maps to plain letters', FRAKTUR, 'hello'],
    ['upper case folds', 'HELLO', 'hello'],
    ['sharp s folds to ss', 'Straße', 'strasse'],
    ['full-width letters map to ASCII', 'ＡＢＣ', 'abc'],
    ['a ligature decomposes', 'ﬃn', 'ffin'],
    ['circled digits map to digits', '①②', '12'],
    ['a zero-width space is removed', 'x\u200by', 'xy'],
    ['a soft hyphen is removed', 'x\u00ady', 'xy'],
    ['final sigma folds', 'ΣΑΣ', 'σασ'],
    ['a space is refused', 'a b', null],
    ['an at sign is refused', 'test@', null],
    ['a slash is refused', 'a/b', null],
    ['mixed right-to-left and left-to-right is refused', 'aא', null],
    ['a right-to-left name ending in a digit is refused', 'א1', null],
    ['a code point unassigned in Unicode 3.2 is refused', '😀', null],
    ['a name that maps to nothing is refused', '\u200b', null],
  ];
  for (const [name, input, expected] of CASES) {
    it(`issue 12 #10: ${name}`, () => {
      assert.equal(ours(input), expected);
    });
  }

  it('issue 12 #10: agrees with Prosody\u2019s own nodeprep on the table, all of printable ASCII and 3,000 generated names', () => {
    let seed = 12;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // Latin, Greek, Cyrillic, Hebrew/Arabic, Greek extended, punctuation and
    // letterlike symbols, enclosed alphanumerics, kana, presentation forms,
    // full width, mathematical alphanumerics, emoji, combining marks, format characters.
    const ranges = [[0x21, 0x7e], [0xa0, 0x24f], [0x370, 0x52f], [0x590, 0x6ff], [0x1e00, 0x1fff], [0x2000, 0x218f], [0x2460, 0x24ff], [0x3000, 0x30ff], [0xfb00, 0xfdff], [0xfe00, 0xffef], [0x1d400, 0x1d7ff], [0x1f300, 0x1f6ff], [0x300, 0x36f], [0x200b, 0x200f]] as const;
    const inputs = CASES.map(([, input]) => input);
    // Every printable ASCII character alone and in a name (ASCII takes a shortcut past the tables).
    for (let c = 0x21; c < 0x7f; c++) inputs.push(String.fromCharCode(c), `Ab${String.fromCharCode(c)}Z9`);
    inputs.push('Alice.Smith-1_x~', 'BOB+tag', 'x=y?z!', '#%$*,;[]^`{|}');
    for (let i = 0; i < 3000; i++) {
      let s = '';
      for (let n = 1 + Math.floor(next() * 5); n > 0; n--) {
        const [lo, hi] = ranges[Math.floor(next() * ranges.length)]!;
        s += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
      }
      inputs.push(s);
    }
    const theirs = prosodyNodeprep(inputs);
    const differ = inputs.filter((s, i) => ours(s) !== theirs[i]);
    assert.deepEqual(differ, [], 'names Prosody and we normalise differently');
    assert.ok(theirs.filter((t) => t !== null).length > 500, 'the corpus has accepted names too');
  });

  it('issue 12 #10: the domain part keeps its rules and a bare JID normalises as a whole', () => {
    assert.equal(normaliseJid(`${FRAKTUR}@LocalHost`), 'hello@localhost');
    assert.equal(normaliseJid('a b@localhost'), null);
  });
});

describe('issue 12 #10: one account per XMPP address, with a real Prosody login', () => {
  let prosody: ProsodyInstance;
  let server: TestServer;
  let stack: ProsodyStack | undefined;
  const target = () => ({ port: prosody.c2sPort, domain: 'localhost' });

  before(async () => {
    stack = await startProsodyStack({ moduleOptions: { xmpp_oauth_timeout: 2 } });
    ({ prosody, server } = stack);
  });
  after(async () => {
    await stack?.stop();
  });

  it('issue 12 #10: an account created as ℌ𝔢𝔩𝔩𝔬 is hello@localhost, and Prosody logs it in under any spelling', async () => {
    assert.equal(await server.app.accounts.create(`${FRAKTUR}@localhost`, PASSWORD), 'hello@localhost');
    assert.deepEqual(await server.app.accounts.list(), ['hello@localhost']);
    for (const name of [FRAKTUR, 'hello', 'HELLO']) {
      const session = await chatSession(target(), name, PASSWORD);
      try {
        assert.match(session.jid, /^hello@localhost\//, `${name} binds to hello@localhost`);
      } finally {
        await session.stop();
      }
    }
    assert.equal(await plainLogin(target(), FRAKTUR, 'not the password'), false);
  });

  it('issue 12 #10: creating a name that normalises to an existing account is refused', async () => {
    await assert.rejects(server.app.accounts.create(`${FRAKTUR.toUpperCase()}@localhost`, 'another password 1234'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'exists');
      assert.match(err.message, /hello@localhost exists already/);
      return true;
    });
    await assert.rejects(server.app.accounts.create('HeLLo@localhost', 'another password 1234'), /exists already/);
    assert.deepEqual(await server.app.accounts.list(), ['hello@localhost']);
  });

  it('issue 12 #10: the web login under the confusable spelling signs in to hello@localhost', async () => {
    const { access_token } = await tokensFor(server.url, `${FRAKTUR}@localhost`, PASSWORD);
    const claims = JSON.parse(Buffer.from(access_token.split('.')[1]!, 'base64url').toString()) as { sub: string; jid: string };
    assert.equal(claims.jid, 'hello@localhost');
    assert.equal(claims.sub, 'xmpp:hello@localhost');
    assert.equal(await plainLogin(target(), FRAKTUR, access_token), true, 'and its token logs in over XMPP');
  });

  it('issue 12 #10: the extauth commands answer for the same account under the confusable spelling', async () => {
    const run = (line: string) => runCommand(server.app.core, parseCommand(Buffer.from(line)) as Command);
    assert.equal(await run(`isuser:${FRAKTUR}:localhost`), true);
    assert.equal(await run(`auth:${FRAKTUR}:localhost:${PASSWORD}`), true);
    assert.equal(await run(`tryregister:${FRAKTUR.toUpperCase()}:localhost:another password 1234`), false, 'no second account');
    assert.deepEqual(await server.app.accounts.list(), ['hello@localhost']);
  });
});
