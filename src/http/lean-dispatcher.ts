import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';
import type { RawHandler } from './raw-back-channel.js';

/**
 * One back-channel endpoint as the dispatcher runs it: the route name (the
 * metrics label, the same one Express's route would give) and the handlers
 * Express would have run for it, in order, minus the app-wide ones (the
 * dispatcher applies security headers and metrics itself).
 */
export interface LeanRoute {
  label: string;
  chain: RequestHandler[];
  /** Answers the common case on node:http alone; when it declines, the chain runs. */
  raw?: RawHandler;
}

export interface LeanDispatcherOptions {
  /** `${METHOD} ${path}` → route; only exact, canonical paths. */
  routes: Map<string, LeanRoute>;
  /** Sets the headers every response carries (security-headers.ts). */
  headers: RequestHandler;
  track?: (req: IncomingMessage, res: ServerResponse, label: string) => void;
  onError: ErrorRequestHandler;
}

/**
 * The back channel (token, introspect, revoke, userinfo, jwks, discovery) is
 * the hot path and does not need the page stack: requests for exactly these
 * method + path pairs skip Express's router and every app-wide middleware
 * (health, static files, cookies, pages); everything else, the other
 * spellings Express also matches (trailing slash, other case) included, goes
 * to Express unchanged. The request and response still get Express's
 * prototypes, as Express itself does per request, so the handlers and error
 * mapping are the very same functions. Most requests do not even get that
 * far: a route's raw handler (raw-back-channel.ts) answers the plain case on
 * node:http alone.
 */
export function leanDispatcher(app: Express, { routes, headers, track, onError }: LeanDispatcherOptions): RequestListener {
  const noop = () => undefined;
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const route = routes.get(`${req.method} ${q < 0 ? url : url.slice(0, q)}`);
    if (!route) {
      app(req, res);
      return;
    }
    track?.(req, res, route.label);
    let thrown: { err: unknown } | undefined;
    try {
      if (route.raw?.(req, res)) return;
    } catch (err) {
      // A raw handler that throws before it answers: the error handler answers instead, as for the chain.
      thrown = { err };
    }
    const ereq = req as Request;
    const eres = res as Response;
    ereq.res = eres;
    eres.req = ereq;
    Object.setPrototypeOf(req, app.request);
    Object.setPrototypeOf(res, app.response);
    if (!eres.locals) eres.locals = Object.create(null) as Response['locals'];
    headers(ereq, eres, noop);
    if (thrown) onError(thrown.err, ereq, eres, noop);
    else run(route.chain, 0, ereq, eres, onError);
  };
}

/** Runs handlers as Express would: next() moves on, next(err) goes to the error handler, a thrown error too. */
function run(chain: RequestHandler[], i: number, req: Request, res: Response, onError: ErrorRequestHandler): void {
  const handler = chain[i];
  if (!handler) return;
  const next = (err?: unknown) => {
    if (err !== undefined && err !== null && err !== 'route' && err !== 'router') onError(err, req, res, () => undefined);
    else run(chain, i + 1, req, res, onError);
  };
  try {
    const result = handler(req, res, next) as unknown;
    if (result instanceof Promise) result.catch(next).catch(() => res.destroy());
  } catch (err) {
    next(err);
  }
}
