import express, { type Express, type RequestHandler } from 'express';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { safeEqual } from '../util/crypto.js';
import { behindProxy, notLocalBecause } from './local-request.js';

/** Listen addresses that only this machine can reach. */
export function isLoopbackListen(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Where /metrics is served. A separate listener (metrics.port) takes it off
 * the public one. Otherwise the public listener serves it only behind
 * metrics.token, or without one to local callers when http.host is loopback
 * and no reverse proxy stands in front (http.trust_proxy unset; review #8):
 * request counts, login outcomes and Redis latency are nobody else's business.
 */
export function metricsPlacement(config: Config): 'separate' | 'public' | 'off' {
  if (config.metrics.port !== undefined) return 'separate';
  if (config.metrics.token !== undefined) return 'public';
  return isLoopbackListen(config.http.host) && !behindProxy(config) ? 'public' : 'off';
}

/** The start-up line when /metrics is off: why, and what to set. */
export function metricsOffNote(config: Config): string {
  const why = behindProxy(config) ? 'http.trust_proxy is set, so callers may come through a reverse proxy' : `http.host ${config.http.host} is not loopback`;
  return `/metrics is not served: ${why}; set metrics.port (a separate listener) or metrics.token`;
}

/** GET /metrics, behind metrics.token when one is configured. */
export function metricsHandler(metrics: Metrics, config: Config, log: Logger): RequestHandler {
  const token = config.metrics.token;
  // Tokenless on the public listener: for this machine only, never through a proxy.
  const localOnly = token === undefined && metricsPlacement(config) === 'public';
  return async (req, res) => {
    const notLocal = localOnly ? notLocalBecause(req, config) : null;
    if (notLocal) {
      log.info({ ip: req.socket.remoteAddress, reason: notLocal }, 'metrics scrape refused');
      res.status(403).set('Cache-Control', 'no-store').type('text/plain').send('/metrics answers local callers only; set metrics.token or metrics.port\n');
      return;
    }
    if (token !== undefined) {
      const given = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
      if (given === undefined || !safeEqual(given, token)) {
        log.info({ ip: req.ip, reason: given === undefined ? 'no bearer token' : 'wrong token' }, 'metrics scrape refused');
        res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').type('text/plain').send('metrics.token required\n');
        return;
      }
    }
    let text: string;
    try {
      text = await metrics.scrape();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'metrics scrape failed');
      res.status(503).type('text/plain').send('metrics unavailable; try again\n');
      return;
    }
    res.set('Cache-Control', 'no-store').type(metrics.registry.contentType).send(text);
  };
}

/** The separate metrics listener's application: /metrics and nothing else. */
export function metricsApp(metrics: Metrics, config: Config, log: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/metrics', metricsHandler(metrics, config, log));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('only /metrics is served here\n');
  });
  return app;
}
