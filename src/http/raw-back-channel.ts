import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { OAuthError, describable } from '../oauth/errors.js';
import { StoreUnavailableError } from '../store/unavailable.js';
import type { BackChannelHandler, BackChannelReply, BackChannelRequest } from './back-channel.js';
import { singleValued } from './oauth-http.js';
import { BoundedMap } from '../util/bounded-map.js';
import { FormError, formErrorText, parseForm, plainForm, readForm } from './raw-form.js';

/**
 * Answers a request directly on node:http, or returns false (having read
 * nothing) so the dispatcher hands it to the Express chain instead.
 */
export type RawHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface RawContext {
  log: Logger;
  /** Security headers (security-headers.ts), as name, value pairs. */
  headers: Array<[string, string]>;
  /** The caller's address as Express's `trust proxy` setting sees it. */
  ipOf: (req: IncomingMessage) => string | undefined;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The back channel's hot path without Express: the handlers are the same
 * domain calls the Express routes run (back-channel.ts), the form is parsed
 * with body-parser's own rules, and every answer, errors included, is
 * written in one writeHead with the headers Express would have sent. Bodies
 * body-parser has special answers for (other types, encodings, chunked,
 * oversized) are left to the Express chain.
 */
export function rawBackChannel(handler: BackChannelHandler, ctx: RawContext): RawHandler {
  const replies = rawReplies(ctx);
  // One async function per request rather than a chain of three promises (allocations on the hot path).
  const serve = async (req: IncomingMessage, res: ServerResponse, post: boolean) => {
    let reply: BackChannelReply;
    try {
      // Inside the try: a malformed query must become an answer, never a throw out of the listener.
      const raw = post ? await readForm(req) : queryOf(req.url);
      reply = await handler(backChannelRequest(req, ctx, singleValued(raw), post));
    } catch (err) {
      replies.error(req, res, err);
      return;
    }
    if (reply.body === undefined) replies.empty(res, reply.status);
    else replies.json(res, reply.status, JSON.stringify(reply.body));
  };
  return (req, res) => {
    const post = req.method === 'POST';
    if (post && !plainForm(req)) return false;
    serve(req, res, post).catch((err: unknown) => {
      // Writing the answer itself failed (the caller went away mid-write): nothing left to tell it.
      ctx.log.info({ path: pathOf(req.url), err: String(err) }, 'could not send the answer');
      res.destroy();
    });
    return true;
  };
}

/** A fixed document (discovery, JWKS): the body is a string computed elsewhere, once per change. */
export function rawDocument(contentType: string, cacheControl: string, body: () => string, ctx: RawContext): RawHandler {
  const fixed = flat(ctx.headers, [['Cache-Control', cacheControl], ['Content-Type', contentType]]);
  return (_req, res) => {
    const text = body();
    res.writeHead(200, [...fixed, 'Content-Length', String(Buffer.byteLength(text))]);
    res.end(text);
    return true;
  };
}

function backChannelRequest(req: IncomingMessage, ctx: RawContext, params: Record<string, string>, post: boolean): BackChannelRequest {
  return {
    method: req.method ?? 'GET',
    headers: req.headers,
    ip: ctx.ipOf(req),
    socket: req.socket,
    isForm: post,
    params: () => params,
  };
}

function queryOf(url: string | undefined): Record<string, unknown> {
  const q = url?.indexOf('?') ?? -1;
  return q < 0 ? {} : parseForm(url!.slice(q + 1));
}

const BASIC_CHALLENGE = 'Basic realm="xmpp-oauth", charset="UTF-8"';
/** Error answers are few and fixed (their texts are ours): serialised once each, not per refused request. */
const ERROR_TEXTS_MAX = 256;

function rawReplies({ log, headers }: RawContext) {
  // Every back-channel answer carries or may reveal a credential (RFC 6749 5.1).
  const base = flat(headers, [['Cache-Control', 'no-store'], ['Pragma', 'no-cache']]);
  // Header lists built once; each answer adds only its Content-Length.
  const jsonHead = [...base, 'Content-Type', JSON_TYPE, 'Content-Length'];
  const challengeHead = [...base, 'WWW-Authenticate', BASIC_CHALLENGE, 'Content-Type', JSON_TYPE, 'Content-Length'];
  const emptyHead = [...base, 'Content-Length', '0'];
  const json = (res: ServerResponse, status: number, text: string, head: string[] = jsonHead) => {
    res.writeHead(status, head.concat(String(Buffer.byteLength(text))));
    res.end(text);
  };
  const errorTexts = new BoundedMap<string, string>(ERROR_TEXTS_MAX);
  const errorText = (err: OAuthError) => {
    // A description may quote the caller (a parameter name): long ones are not kept.
    if (err.description.length > 200) return JSON.stringify(err.toJSON());
    const id = `${err.error}\n${err.description}`;
    let text = errorTexts.get(id);
    if (text === undefined) errorTexts.set(id, (text = JSON.stringify(err.toJSON())));
    return text;
  };
  return {
    json,
    empty(res: ServerResponse, status: number) {
      res.writeHead(status, emptyHead);
      res.end();
    },
    /** The answers sendOAuthError and the app's error handler (server.ts) give on the Express path. */
    error(req: IncomingMessage, res: ServerResponse, err: unknown) {
      if (res.headersSent || res.destroyed) return;
      const path = pathOf(req.url);
      if (err instanceof OAuthError) {
        log.info({ path, error: err.error, reason: err.description }, 'oauth request refused');
        const challenge = err.status === 401 && err.error === 'invalid_client';
        let head = challenge ? challengeHead : jsonHead;
        if (Object.keys(err.headers).length > 0) {
          // As sendOAuthError: the error's own headers win over the Basic challenge.
          const extra: Record<string, string> = challenge ? { 'WWW-Authenticate': BASIC_CHALLENGE } : {};
          Object.assign(extra, err.headers);
          head = [...base, ...Object.entries(extra).flat(), 'Content-Type', JSON_TYPE, 'Content-Length'];
        }
        json(res, err.status, errorText(err), head);
      } else if (err instanceof StoreUnavailableError) {
        log.info({ path }, 'request failed: store unavailable');
        json(res, 503, JSON.stringify({ error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; try again shortly' }), [...base, 'Retry-After', '5', 'Content-Type', JSON_TYPE, 'Content-Length']);
      } else if (err instanceof FormError) {
        log.info({ path, status: err.status, reason: err.type }, 'bad request');
        json(res, err.status, JSON.stringify({ error: 'invalid_request', error_description: describable(formErrorText(err.type)) }));
      } else {
        log.error({ err, path }, 'unhandled error in request');
        json(res, 500, JSON.stringify({ error: 'server_error', error_description: 'internal error' }));
      }
    },
  };
}

function pathOf(url: string | undefined): string {
  const q = url?.indexOf('?') ?? -1;
  return q < 0 ? url ?? '' : url!.slice(0, q);
}

function flat(...lists: Array<Array<[string, string]>>): string[] {
  return lists.flat().flat();
}
