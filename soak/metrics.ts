// Samples each instance's /metrics (served on the public listener on loopback):
// prom-client's default process_resident_memory_bytes and
// nodejs_eventloop_lag_p99_seconds; and Redis used_memory via INFO.
import { connect } from 'node:net';
import type { Instance } from './instance.js';

export interface Sample {
  at: number;
  instance: string;
  incarnation: number;
  rssBytes?: number;
  eventLoopP99Ms?: number;
}

const metric = (text: string, name: string): number | undefined => {
  // Our registry prefixes prom-client's default metrics with xmpp_oauth_.
  const m = new RegExp(`^(?:xmpp_oauth_)?${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

export async function sample(i: Instance): Promise<Sample | undefined> {
  if (!i.running) return undefined;
  try {
    const res = await fetch(`${i.url}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return undefined;
    const text = await res.text();
    const lag = metric(text, 'nodejs_eventloop_lag_p99_seconds');
    return { at: Date.now(), instance: i.name, incarnation: i.incarnation, rssBytes: metric(text, 'process_resident_memory_bytes'), eventLoopP99Ms: lag === undefined ? undefined : lag * 1000 };
  } catch {
    return undefined;
  }
}

export function redisUsedMemory(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('INFO memory\r\n'));
    let buf = '';
    s.setTimeout(3000, () => {
      s.destroy();
      resolve(undefined);
    });
    s.on('error', () => resolve(undefined));
    s.on('data', (d) => {
      buf += d.toString();
      const m = /used_memory:(\d+)/.exec(buf);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
  });
}
