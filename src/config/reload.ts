import type { Config } from './schema.js';

/**
 * What a running server can take from a re-read config (SIGHUP): the options
 * its readers look up at each use. Everything else is bound at start-up (a
 * listening port, the Redis connection, the component link, cookie keys …).
 */
export const RELOADABLE = ['clients', 'upstream.providers', 'admins', 'log.level'] as const;
export type Reloadable = (typeof RELOADABLE)[number];

export interface ReloadPlan {
  /** Changed options that take effect without a restart. */
  reload: Reloadable[];
  /** Changed options that keep their running value until a restart (names only: values may be secrets). */
  restart: string[];
}

/** Compares the running config with a freshly loaded one and sorts the differences. */
export function planReload(current: Config, next: Config): ReloadPlan {
  const plan: ReloadPlan = { reload: [], restart: [] };
  for (const path of changedPaths(current, next)) {
    if (!isReloadable(path)) plan.restart.push(path);
    // The sign-in routes are mounted at start-up only when there is a provider.
    else if (path === 'upstream.providers' && current.upstream.providers.length === 0) plan.restart.push(path);
    else plan.reload.push(path);
  }
  return plan;
}

const isReloadable = (path: string): path is Reloadable => (RELOADABLE as readonly string[]).includes(path);

/** Dotted paths whose values differ; a reloadable path or a list counts as one value. */
function changedPaths(a: unknown, b: unknown, path = ''): string[] {
  if (isRecord(a) && isRecord(b) && !isReloadable(path)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((key) => changedPaths(a[key], b[key], path ? `${path}.${key}` : key));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Ids present in only one of two lists, and ids whose entry changed. */
export function idChanges<T extends { id: string }>(before: readonly T[], after: readonly T[]): { added: string[]; removed: string[]; changed: string[] } {
  const old = new Map(before.map((x) => [x.id, JSON.stringify(x)]));
  const now = new Map(after.map((x) => [x.id, JSON.stringify(x)]));
  return {
    added: [...now.keys()].filter((id) => !old.has(id)),
    removed: [...old.keys()].filter((id) => !now.has(id)),
    changed: [...now.keys()].filter((id) => old.has(id) && old.get(id) !== now.get(id)),
  };
}
