// Both framings and the command parser in-process, under arbitrary input:
// however the bytes are cut, every whole request comes out exactly once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCommand } from '../../src/extauth/commands.js';
import { EjabberdFraming, GenericFraming, MAX_REQUEST_BYTES, type Frame } from '../../src/extauth/framing.js';

const cutInto = (bytes: Buffer, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    pieces.push(bytes.subarray(from, p));
    from = p;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
};
const feed = (framing: GenericFraming | EjabberdFraming, pieces: Buffer[]): Frame[] => pieces.flatMap((p) => framing.push(p));
const bodies = fc.array(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { maxLength: 12 });

describe('extauth framing', () => {
  it('ejabberd: any split of any frames yields exactly those frames', () => {
    fc.assert(
      fc.property(bodies, fc.array(fc.nat(), { maxLength: 20 }), (reqs, cuts) => {
        const stream = Buffer.concat(reqs.map((b) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])));
        const frames = feed(new EjabberdFraming(), cutInto(stream, cuts));
        assert.deepEqual(
          frames.map((f) => (f.kind === 'request' ? f.bytes.toString('hex') : 'oversized')),
          reqs.map((b) => b.toString('hex')),
        );
      }),
    );
  });

  it('ejabberd: oversized frames are refused and skipped without losing step', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_REQUEST_BYTES + 1, max: 65_535 }), fc.array(fc.nat(), { maxLength: 8 }), (len, cuts) => {
        const big = Buffer.concat([Buffer.from([len >> 8, len & 0xff]), Buffer.alloc(len, 0x41)]);
        const next = Buffer.concat([Buffer.from([0, 3]), Buffer.from('abc')]);
        const framing = new EjabberdFraming();
        const frames = feed(framing, cutInto(Buffer.concat([big, next]), cuts));
        assert.deepEqual(frames.map((f) => f.kind), ['oversized', 'request']);
        assert.equal(framing.pending(), 0);
      }),
    );
  });

  it('generic: any split yields each line once, without its CR', () => {
    const line = fc.string({ maxLength: 200 }).map((s) => s.replace(/[\r\n]/g, ''));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 20 }), (ls, crlf, cuts) => {
        const stream = Buffer.from(ls.map((l) => l + (crlf ? '\r\n' : '\n')).join(''));
        const frames = feed(new GenericFraming(), cutInto(stream, cuts));
        assert.deepEqual(
          frames.map((f) => (f.kind === 'request' ? f.bytes.toString() : 'oversized')),
          ls,
        );
      }),
    );
  });

  it('generic: an endless line is dropped, not buffered', () => {
    const framing = new GenericFraming();
    for (let i = 0; i < 100; i++) assert.deepEqual(framing.push(Buffer.alloc(1024, 0x41)), []);
    const frames = framing.push(Buffer.from('\nisuser:a:b\n'));
    assert.deepEqual(frames.map((f) => f.kind), ['oversized', 'request']);
  });
});

describe('extauth command parsing', () => {
  it('keeps every colon after the third inside the password', () => {
    assert.deepEqual(parseCommand(Buffer.from('auth:alice:example.org:a:b::c:')), {
      cmd: 'auth',
      user: 'alice',
      host: 'example.org',
      password: 'a:b::c:',
    });
    assert.deepEqual(parseCommand(Buffer.from('removeuser:alice:example.org')), { cmd: 'removeuser', user: 'alice', host: 'example.org' });
  });

  it('never throws on arbitrary bytes, and never echoes a password in its reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const parsed = parseCommand(Buffer.from(bytes));
        if ('error' in parsed) assert.ok(parsed.error.length < 100);
        else {
          assert.ok(parsed.user && parsed.host);
          if ('password' in parsed) assert.ok(parsed.password.length > 0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
