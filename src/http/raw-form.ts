import type { IncomingMessage } from 'node:http';
import qs from 'qs';

/** The same limits as formBody (oauth-http.ts). */
export const FORM_LIMIT = 16 * 1024;
export const PARAMETER_LIMIT = 100;

const PLAIN_FORM = /^application\/x-www-form-urlencoded[ \t]*(?:;[ \t]*charset[ \t]*=[ \t]*(?:utf-8|"utf-8")[ \t]*)?$/i;
const DIGITS = /^\d{1,5}$/;

// Fixed texts: body-parser's own messages may quote the caller's bytes.
const FORM_ERRORS: Record<string, string> = {
  'entity.too.large': 'request body too large',
  'entity.parse.failed': 'the request body could not be parsed',
  'encoding.unsupported': 'unsupported content encoding',
  'charset.unsupported': 'unsupported charset',
  'parameters.too.many': 'too many parameters',
  'request.aborted': 'the request was aborted',
  'request.size.invalid': 'the request body size does not match Content-Length',
  'stream.encoding.set': 'the request is malformed',
};

/** The answer's text for a refused body (body-parser's error types and ours). */
export const formErrorText = (type: string | undefined) => FORM_ERRORS[type ?? ''] ?? 'the request is malformed';

/** A refused body, in the terms body-parser uses (server.ts maps `type` to the answer's text). */
export class FormError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
  ) {
    super(type);
  }
}

/**
 * Whether the small reader below takes this request's body: a plain UTF-8
 * form with a Content-Length within the limit, not compressed. Anything else
 * (another type or charset, an encoding, chunked, too large) goes to
 * body-parser on the Express path, which has an answer for every case.
 */
export function plainForm(req: IncomingMessage): boolean {
  const { headers } = req;
  const type = headers['content-type'];
  const length = headers['content-length'];
  if (type === undefined || length === undefined || headers['content-encoding'] !== undefined) return false;
  return DIGITS.test(length) && Number(length) <= FORM_LIMIT && PLAIN_FORM.test(type);
}

/** Reads and parses a body plainForm() accepted; rejects with a FormError, or when the caller went away. */
export function readForm(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      try {
        const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        // body-parser decodes through iconv-lite, which drops a byte order mark.
        resolve(parseForm(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
      } catch (err) {
        reject(err);
      }
    });
    req.once('error', () => reject(new FormError(400, 'request.aborted')));
    req.once('aborted', () => reject(new FormError(400, 'request.aborted')));
  });
}

/** body-parser's urlencoded({ extended: false }) parse: qs at depth 0, the same parameter limit. */
export function parseForm(body: string): Record<string, unknown> {
  if (body.length === 0) return {};
  let count = 0;
  let at = -1;
  do {
    if (++count > PARAMETER_LIMIT) throw new FormError(413, 'parameters.too.many');
    at = body.indexOf('&', at + 1);
  } while (at !== -1);
  try {
    return qs.parse(body, { allowPrototypes: true, arrayLimit: count, depth: 0, parameterLimit: PARAMETER_LIMIT, strictDepth: true });
  } catch (err) {
    if (err instanceof RangeError) throw new FormError(400, 'querystring.parse.rangeError');
    throw err;
  }
}
