// What every load generator gets: the ledger, the topology, the seeded PRNG,
// and a stop signal; plus the loop that bounds each generator's rate.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ledger } from '../ledger.js';
import type { Rng } from '../prng.js';
import type { Topology } from '../topology.js';

export interface LoadContext {
  ledger: Ledger;
  topo: Topology;
  rng: Rng;
  stopping: () => boolean;
}

/** A random running-or-not instance: clients do not know which one is down. */
export const anyInstance = (ctx: LoadContext) => ctx.rng.pick(ctx.topo.instances);
export const otherInstance = (ctx: LoadContext, name: string) => ctx.topo.instances.find((i) => i.name !== name)!;

/** Runs `step` until the soak stops, pausing `minMs`..`maxMs` between steps; a thrown step is counted, not fatal. */
export async function loop(ctx: LoadContext, name: string, minMs: number, maxMs: number, step: () => Promise<void>, errors: Map<string, number>): Promise<void> {
  while (!ctx.stopping()) {
    try {
      await step();
    } catch (err) {
      const key = `${name}: ${(err as Error).message.split('\n')[0]!.slice(0, 160)}`;
      errors.set(key, (errors.get(key) ?? 0) + 1);
    }
    await sleep(ctx.rng.int(minMs, maxMs));
  }
}
