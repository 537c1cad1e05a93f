// `serve` on SIGHUP (`systemctl reload`): re-read the config file and apply what
// can change while running. The readers of those options (client look-up,
// upstream sign-in, the admin check) read the running config at each use, so
// assigning the new values here is the whole of applying them.
import type { App } from '../app.js';
import type { LoadedConfig } from '../config/load.js';
import { idChanges, planReload, type ReloadPlan } from '../config/reload.js';
import type { Config, UpstreamProviderConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { oneLine } from '../util/startup-error.js';

export interface ReloadDeps {
  /** The running app (a SIGHUP during start-up waits for it). */
  app: Promise<App>;
  /** Loads the config as at start-up: the same file and environment. */
  read: () => Promise<LoadedConfig>;
  /** The root logger, whose level the children follow. */
  root: Logger;
  log: Logger;
}

/** A SIGHUP handler; reloads run one at a time, in order. */
export function sighupReloader(deps: ReloadDeps): () => void {
  let queue: Promise<void> = Promise.resolve();
  return () => {
    queue = queue.then(() => reload(deps)).catch(() => undefined);
  };
}

async function reload({ app: starting, read, root, log }: ReloadDeps): Promise<void> {
  const app = await starting;
  let loaded: LoadedConfig;
  try {
    loaded = await read();
  } catch (err) {
    // The operator's file, not remote input: they must fix it, and the server keeps running as it was.
    log.error({ signal: 'SIGHUP' }, `config reload refused, the running config stays: ${oneLine((err as Error)?.message ?? String(err))}`);
    return;
  }
  if (!loaded.file) {
    log.info({ signal: 'SIGHUP' }, 'no config file to re-read (the environment of a running process does not change): nothing reloaded');
    return;
  }
  const plan = planReload(app.config, loaded.config);
  const next = loaded.config;
  const fields = { signal: 'SIGHUP', config: loaded.file, reloaded: plan.reload, needs_restart: plan.restart, ...details(app.config, next, plan) };
  const message = summary(plan);
  // Said at the more verbose of the two levels, so a reload that quietens the log is still seen.
  const louder = root.levels.values[next.log.level] !== undefined && root.levels.values[next.log.level]! < root.levelVal;
  if (!louder) log.info(fields, message);
  apply(app.config, next, plan, root);
  if (louder) log.info(fields, message);
}

function apply(config: Config, next: Config, plan: ReloadPlan, root: Logger): void {
  for (const path of plan.reload) {
    switch (path) {
      case 'clients':
        config.clients = next.clients;
        break;
      case 'admins':
        config.admins = next.admins;
        break;
      case 'upstream.providers':
        config.upstream.providers = keepUnchanged(config.upstream.providers, next.upstream.providers);
        break;
      case 'log.level':
        config.log.level = next.log.level;
        root.level = next.log.level;
        break;
    }
  }
}

/** An unchanged provider keeps its entry, and with it the discovery already done. */
function keepUnchanged(before: UpstreamProviderConfig[], after: UpstreamProviderConfig[]): UpstreamProviderConfig[] {
  const old = new Map(before.map((p) => [p.id, p]));
  return after.map((p) => {
    const same = old.get(p.id);
    return same && JSON.stringify(same) === JSON.stringify(p) ? same : p;
  });
}

/** Which clients, providers and admins changed: ids and JIDs, never a secret. */
function details(current: Config, next: Config, plan: ReloadPlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (plan.reload.includes('clients')) out.clients = idChanges(current.clients, next.clients);
  if (plan.reload.includes('upstream.providers')) out.providers = idChanges(current.upstream.providers, next.upstream.providers);
  if (plan.reload.includes('admins')) {
    out.admins = { added: next.admins.filter((j) => !current.admins.includes(j)), removed: current.admins.filter((j) => !next.admins.includes(j)) };
  }
  if (plan.reload.includes('log.level')) out.log_level = { from: current.log.level, to: next.log.level };
  return out;
}

function summary({ reload, restart }: ReloadPlan): string {
  if (reload.length === 0 && restart.length === 0) return 'config reloaded: no change';
  const parts = [
    reload.length ? `applied ${reload.join(', ')}` : 'nothing to apply',
    ...(restart.length ? [`needs a restart to change ${restart.join(', ')} (running values kept)`] : []),
  ];
  return `config reloaded: ${parts.join('; ')}`;
}
