// The two wire formats of external-auth programs. Each turns a byte stream into
// requests and a boolean answer back into bytes; neither knows what a request means.

/** What a framing yields: a request's bytes, or a frame we refuse to read. */
export type Frame = { kind: 'request'; bytes: Buffer } | { kind: 'oversized'; length: number };

export interface Framing {
  readonly name: 'generic' | 'ejabberd';
  /** Feeds input; returns every frame it completes. */
  push(chunk: Buffer): Frame[];
  /** Bytes of a frame started but not finished (reported when input ends). */
  pending(): number;
  encode(ok: boolean): Buffer;
}

/** Longest request we read; anything longer is answered with failure unread. */
export const MAX_REQUEST_BYTES = 8192;

/**
 * Prosody's mod_auth_external line protocol: `cmd:user:host[:password]\n`,
 * answered `1\n` or `0\n`. mod_auth_external runs us on a pty, so lines may
 * end in `\r\n`.
 */
export class GenericFraming implements Framing {
  readonly name = 'generic';
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.append(chunk.subarray(start, nl));
      frames.push(this.finishLine());
      start = nl + 1;
    }
    this.append(chunk.subarray(start));
    return frames;
  }

  pending(): number {
    return this.size;
  }

  encode(ok: boolean): Buffer {
    return Buffer.from(ok ? '1\n' : '0\n');
  }

  private append(piece: Buffer): void {
    if (!piece.length) return;
    this.size += piece.length;
    if (this.size > MAX_REQUEST_BYTES) {
      this.skipping = true; // keep counting, stop keeping
      this.parts = [];
    } else {
      this.parts.push(piece);
    }
  }

  private finishLine(): Frame {
    const size = this.size;
    const skipped = this.skipping;
    let bytes = Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    this.skipping = false;
    if (skipped) return { kind: 'oversized', length: size };
    if (bytes.at(-1) === 0x0d) bytes = bytes.subarray(0, -1);
    return { kind: 'request', bytes };
  }
}

/**
 * ejabberd's extauth framing: a 2-byte big-endian length, then that many bytes;
 * the answer is `00 02 00 00` (failure) or `00 02 00 01` (success).
 */
export class EjabberdFraming implements Framing {
  readonly name = 'ejabberd';
  private buffer: Buffer = Buffer.alloc(0);
  /** Bytes still to discard from an oversized frame. */
  private discard = 0;

  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const frames: Frame[] = [];
    for (;;) {
      if (this.discard > 0) {
        const n = Math.min(this.discard, this.buffer.length);
        this.discard -= n;
        this.buffer = this.buffer.subarray(n);
        if (this.discard > 0) break;
        continue;
      }
      if (this.buffer.length < 2) break;
      const length = this.buffer.readUInt16BE(0);
      if (length > MAX_REQUEST_BYTES) {
        // Answer now; the body is skipped as it arrives so framing stays in step.
        frames.push({ kind: 'oversized', length });
        this.buffer = this.buffer.subarray(2);
        this.discard = length;
        continue;
      }
      if (this.buffer.length < 2 + length) break;
      frames.push({ kind: 'request', bytes: Buffer.from(this.buffer.subarray(2, 2 + length)) });
      this.buffer = this.buffer.subarray(2 + length);
    }
    return frames;
  }

  pending(): number {
    return this.buffer.length + this.discard;
  }

  encode(ok: boolean): Buffer {
    return Buffer.from([0, 2, 0, ok ? 1 : 0]);
  }
}

export function framingFor(protocol: string): Framing {
  if (protocol === 'generic') return new GenericFraming();
  if (protocol === 'ejabberd') return new EjabberdFraming();
  throw new Error(`unknown extauth protocol "${protocol}" (expected generic or ejabberd)`);
}
