import type { ServerResponse } from 'node:http';
import { Router, type Request, type RequestHandler } from 'express';
import type { CoreDeps } from '../../oauth/context.js';
import { backChannelHandlers, type BackChannelHandler, type BackChannelRequest } from '../back-channel.js';
import { formBody, oauthEndpoint, oauthParams } from '../oauth-http.js';
import { rawBackChannel, type RawContext, type RawHandler } from '../raw-back-channel.js';
import { noStore } from '../security-headers.js';

/**
 * The back-channel JSON endpoints: token, revoke, introspect, userinfo.
 * The lean dispatcher (lean-dispatcher.ts) answers their canonical paths
 * before Express; these routes serve the spellings Express also matches
 * (trailing slash, other letter case) with the same handlers.
 */
export function tokenRoutes(endpoints: Endpoint[]): Router {
  const router = Router();
  for (const { method, path, chain } of endpoints) router[method === 'GET' ? 'get' : 'post'](path, ...chain);
  return router;
}

/** An endpoint as both the router above and the lean dispatcher mount it. */
export interface Endpoint {
  method: 'GET' | 'POST';
  path: string;
  chain: RequestHandler[];
  /** The dispatcher's direct answer for the common case (raw-back-channel.ts); the chain serves the rest. */
  raw?: RawHandler;
}

export function tokenEndpoints(deps: CoreDeps, rawContext?: RawContext): Endpoint[] {
  const { log } = deps;
  const handlers = backChannelHandlers(deps);
  const route = (handler: BackChannelHandler): RequestHandler =>
    oauthEndpoint(log, async (req, res) => {
      const reply = await handler(expressRequest(req));
      if (reply.body === undefined) res.status(reply.status).end();
      else sendJson(res, reply.status, reply.body);
    });

  const raw = (handler: BackChannelHandler) => (rawContext ? rawBackChannel(handler, rawContext) : undefined);

  return [
    { method: 'POST', path: '/oauth2/token', chain: [noStore, formBody, route(handlers.token)], raw: raw(handlers.token) },
    { method: 'POST', path: '/oauth2/revoke', chain: [noStore, formBody, route(handlers.revoke)], raw: raw(handlers.revoke) },
    { method: 'POST', path: '/oauth2/introspect', chain: [noStore, formBody, route(handlers.introspect)], raw: raw(handlers.introspect) },
    { method: 'GET', path: '/oauth2/userinfo', chain: [noStore, route(handlers.userinfo)], raw: raw(handlers.userinfo) },
    { method: 'POST', path: '/oauth2/userinfo', chain: [noStore, formBody, route(handlers.userinfo)], raw: raw(handlers.userinfo) },
  ];
}

/** What res.json writes (Express's content type, a length), without its per-call option and charset handling. */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

function expressRequest(req: Request): BackChannelRequest {
  return {
    method: req.method,
    headers: req.headers,
    ip: req.ip,
    socket: req.socket,
    isForm: req.method === 'POST' && Boolean(req.is('application/x-www-form-urlencoded')),
    params: () => oauthParams(req),
  };
}
