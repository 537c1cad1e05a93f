// The fault schedule (seeded) and each fault's injection. A fault's window runs
// from its start until the probe first succeeds again after the faulty part is
// back: introspection of a live token on both instances and an XMPP login with
// a token, which needs Redis, both instances' HTTP and the component link.
import { setTimeout as sleep } from 'node:timers/promises';
import { malformedBurst, slowClient } from './abuse.js';
import type { FaultWindow, Ledger } from './ledger.js';
import { post, RS_BASIC } from './load/http.js';
import { xmppLogin } from './load/xmpp-login.js';
import type { Rng } from './prng.js';
import type { Topology } from './topology.js';

export const FAULT_KINDS = ['redis-sigterm', 'redis-sigkill', 'prosody-restart', 'instance-sigkill', 'slow-client', 'malformed-burst'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Planned {
  at: number; // ms after the load starts
  kind: FaultKind;
}

/** Every kind at least once, in a seeded order, spread over the middle of the run with seeded jitter. */
export function schedule(rng: Rng, durationMs: number): Planned[] {
  const warm = Math.min(20_000, durationMs * 0.1);
  const tail = Math.min(20_000, durationMs * 0.1);
  const span = durationMs - warm - tail;
  const count = Math.max(FAULT_KINDS.length, Math.floor(span / 40_000));
  const kinds: FaultKind[] = [];
  while (kinds.length < count) kinds.push(...rng.shuffle([...FAULT_KINDS]));
  const slot = span / count;
  return kinds.slice(0, count).map((kind, i) => ({ kind, at: Math.round(warm + i * slot + rng.next() * slot * 0.3) }));
}

export interface Probe {
  /** A token of a grant the load never touches (an account of its own). */
  user: string;
  access: string;
}

async function probeOnce(topo: Topology, ledger: Ledger, probe: Probe): Promise<boolean> {
  for (const i of topo.instances) {
    const r = await post(ledger, 'probe', i, '/oauth2/introspect', { token: probe.access }, { auth: RS_BASIC });
    if (r.status !== 200 || r.body.active !== true) return false;
  }
  return (await xmppLogin(ledger, topo.xmppTarget(), probe.user, 'token-plain', probe.access)) === 'login-ok';
}

async function recover(topo: Topology, ledger: Ledger, probe: Probe, w: FaultWindow, limitMs = 120_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await probeOnce(topo, ledger, probe)) {
      w.recovered = Date.now();
      return;
    }
    await sleep(200);
  }
  w.detail = `${w.detail ?? ''} not recovered within ${limitMs / 1000} s`.trim();
}

export async function inject(kind: FaultKind, topo: Topology, ledger: Ledger, probe: Probe, rng: Rng): Promise<FaultWindow> {
  const w: FaultWindow = { kind, start: Date.now(), outage: kind !== 'slow-client' && kind !== 'malformed-burst' };
  ledger.windows.push(w);
  switch (kind) {
    case 'redis-sigterm':
      await topo.redis.kill('SIGTERM');
      await sleep(rng.int(1000, 3000));
      await topo.redis.start();
      break;
    case 'redis-sigkill':
      ledger.redisKills.push(Date.now());
      await topo.redis.kill('SIGKILL');
      await sleep(rng.int(1000, 3000));
      await topo.redis.start();
      break;
    case 'prosody-restart':
      await topo.prosody.restart({ downtimeMs: rng.int(500, 2000) });
      break;
    case 'instance-sigkill': {
      const victim = (await topo.active()) ?? topo.instances[0];
      w.detail = `instance ${victim.name} (active)`;
      await victim.kill('SIGKILL');
      await sleep(rng.int(500, 2000));
      await victim.start();
      break;
    }
    case 'slow-client': {
      const victim = rng.pick(topo.instances);
      const r = await slowClient(victim, 40, 20_000);
      w.detail = `instance ${victim.name}: ${r.opened} slow connections for 20 s, ${r.closedByServer} closed by the server`;
      break;
    }
    case 'malformed-burst': {
      const sent = await malformedBurst(ledger, topo.instances);
      w.detail = `${sent} malformed requests`;
      break;
    }
  }
  w.restored = Date.now();
  await recover(topo, ledger, probe, w);
  return w;
}
