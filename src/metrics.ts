import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { hashQueue } from './accounts/passwords.js';
import type { CoreMetrics } from './oauth/context.js';
import type { Store } from './store/types.js';

export interface Metrics {
  registry: Registry;
  /** The exposition text a scrape gets: this registry, or with workers every worker's, aggregated. */
  scrape(): Promise<string>;
  core: CoreMetrics;
  /** Counts and times every HTTP request by matched route (never the raw URL: no tokens in labels, bounded series). */
  http: RequestHandler;
  /** The same for a request whose route is known up front (the lean dispatcher's fixed routes). */
  track(req: IncomingMessage, res: ServerResponse, endpoint: string): void;
}

export function createMetrics(store: Store, xmppOnline: () => boolean | undefined): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'xmpp_oauth_' });

  const requests = new Counter({
    name: 'xmpp_oauth_http_requests_total',
    help: 'HTTP requests by endpoint and status',
    labelNames: ['method', 'endpoint', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'xmpp_oauth_http_request_duration_seconds',
    help: 'HTTP request duration by endpoint',
    labelNames: ['endpoint'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const logins = new Counter({
    name: 'xmpp_oauth_logins_total',
    help: 'Password and token logins by front door and outcome',
    labelNames: ['via', 'outcome'] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'xmpp_oauth_tokens_issued_total',
    help: 'Token responses issued by grant type',
    labelNames: ['grant_type'] as const,
    registers: [registry],
  });
  const xmppQueries = new Counter({
    name: 'xmpp_oauth_xmpp_queries_total',
    help: 'Authentication queries answered over the component link and extauth',
    labelNames: ['op', 'outcome'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'xmpp_oauth_store_latency_seconds',
    help: 'Round trip to the state store at scrape time (-1: unreachable)',
    registers: [registry],
    async collect() {
      try {
        this.set((await store.ping()) / 1000);
      } catch {
        this.set(-1);
      }
    },
  });
  new Gauge({
    name: 'xmpp_oauth_password_hashes',
    help: 'argon2id hashes running and waiting for a turn (password_hash_concurrency)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const { running, waiting } = hashQueue();
      this.set({ state: 'running' }, running);
      this.set({ state: 'waiting' }, waiting);
    },
  });
  new Gauge({
    name: 'xmpp_oauth_xmpp_link_up',
    help: 'Whether the XMPP component link is online (absent when disabled)',
    registers: [registry],
    collect() {
      const up = xmppOnline();
      if (up !== undefined) this.set(up ? 1 : 0);
    },
  });

  return {
    registry,
    scrape: () => registry.metrics(),
    core: {
      login: (via, outcome) => logins.inc({ via, outcome }),
      tokenIssued: (grantType) => tokens.inc({ grant_type: grantType }),
      xmppQuery: (op, outcome) => xmppQueries.inc({ op, outcome }),
    },
    http: (req, res, next) => {
      const start = performance.now();
      res.on('finish', () => record(req.method, routeLabel(req), res.statusCode, start));
      next();
    },
    track: (req, res, endpoint) => {
      const start = performance.now();
      res.on('finish', () => record(req.method ?? 'other', endpoint, res.statusCode, start));
    },
  };

  function record(method: string, endpoint: string, status: number, start: number): void {
    requests.inc({ method: METHODS.has(method) ? method : 'other', endpoint, status: String(status) });
    duration.observe({ endpoint }, (performance.now() - start) / 1000);
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The label of a request: the pattern of the route that answered it, from
 * the fixed set the routers declare. Everything else, a 404 on any path
 * included, shares one label, so no caller can grow the label set.
 */
export function routeLabel(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path === 'string') return `${req.baseUrl}${path}`;
  if (Array.isArray(path)) return `${req.baseUrl}${path.find((p) => p === req.path) ?? path[0]}`;
  if (req.baseUrl === '/static' || req.originalUrl.startsWith('/static/')) return '/static';
  return 'unmatched';
}
