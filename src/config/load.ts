import { readFile } from 'node:fs/promises';
import { parseDocument, parse as parseYamlScalar } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

/** A configuration problem: the message is one line naming the key, the value and what is allowed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const ENV_PREFIX = 'XMPP_OAUTH_';
const ENV_FILE = 'XMPP_OAUTH_CONFIG';

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: Config;
  file?: string;
  /** Whether the file or the environment set this option (`xmpp.hosts`), rather than a default. */
  isSet?: (path: string) => boolean;
}

export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const file = opts.file ?? (env[ENV_FILE] || undefined);
  const raw = file ? await readYaml(file) : {};
  const fromEnv = applyEnv(raw, env);
  try {
    return { config: validate(raw, file), file, isSet: (path) => valueAt(raw, path.split('.')) !== undefined };
  } catch (err) {
    // Name the variable when the bad value came from the environment.
    const key = err instanceof ConfigError ? /^(?:.*?: )?([\w.]+):/.exec(err.message)?.[1] : undefined;
    const source = key && [...fromEnv.entries()].find(([path]) => key === path || key.startsWith(`${path}.`))?.[1];
    if (source) throw new ConfigError(`${(err as Error).message} (from ${source})`);
    throw err;
  }
}

async function readYaml(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    throw new ConfigError(`${where}: invalid YAML: ${first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${file}: expected a mapping of option names to values at the top level`);
  }
  return value as Record<string, unknown>;
}

/**
 * `XMPP_OAUTH_REDIS__URL=redis://…` sets `redis.url`; values are read as YAML
 * scalars or flow lists. For a list option a plain scalar is a one-element list
 * (`XMPP_OAUTH_XMPP__HOSTS=example.org`); several need flow syntax (`[a.org, b.org]`).
 */
function applyEnv(target: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const applied = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === ENV_FILE || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    let parsed: unknown;
    try {
      parsed = parseYamlScalar(value);
    } catch {
      parsed = value;
    }
    // Keep strings that merely look like other things (e.g. a secret "123") usable as strings.
    if (parsed === null) parsed = value;
    const list = listOption(path);
    if (list && !Array.isArray(parsed)) parsed = [list === 'string' ? value : parsed];
    let node = target;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = parsed;
    applied.set(path.join('.'), name);
  }
  return applied;
}

/** Validates a raw config object (file contents plus overrides) and fills derived values. */
export function validate(raw: Record<string, unknown>, file?: string): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(describeIssue(result.error.issues[0]!, raw, file));
  const data = result.data;
  const issuer = (data.issuer ?? `http://${data.http.host.includes(':') ? `[${data.http.host}]` : data.http.host}:${data.http.port}`).replace(/\/+$/, '');
  const config: Config = { ...data, issuer };
  const ids = new Set<string>();
  for (const [i, c] of config.clients.entries()) {
    if (ids.has(c.id)) throw new ConfigError(`${prefix(file)}clients.${i}.id: duplicate client id ${JSON.stringify(c.id)}`);
    ids.add(c.id);
  }
  const hosts = config.xmpp.hosts.map((h) => h.toLowerCase());
  const providers = new Set<string>();
  for (const [i, p] of config.upstream.providers.entries()) {
    const at = `${prefix(file)}upstream.providers.${i}`;
    if (providers.has(p.id)) throw new ConfigError(`${at}.id: duplicate provider id ${JSON.stringify(p.id)}`);
    providers.add(p.id);
    if (p.host === undefined) p.host = hosts[0];
    else if (!hosts.includes(p.host.toLowerCase())) {
      throw new ConfigError(`${at}.host: ${JSON.stringify(p.host)} is not one of xmpp.hosts (${config.xmpp.hosts.join(', ')})`);
    } else p.host = p.host.toLowerCase();
  }
  if (!config.local_login && config.upstream.providers.length === 0) {
    throw new ConfigError(`${prefix(file)}local_login: false needs at least one upstream.providers entry, or nobody could sign in`);
  }
  return config;
}

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType>; element?: z.ZodType };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Past defaults, optionals and transforms to the type an operator writes. */
function unwrap(s: z.ZodType): Def {
  for (let d = defOf(s); ; d = defOf(s)) {
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return d;
  }
}

/** For a list option: the element's type ('string', 'enum', …); undefined for anything else. */
function listOption(path: string[]): string | undefined {
  let d = unwrap(configSchema);
  for (const key of path) {
    const next = d.type === 'object' ? d.shape?.[key] : undefined;
    if (!next) return undefined;
    d = unwrap(next);
  }
  return d.type === 'array' && d.element ? unwrap(d.element).type : undefined;
}

function prefix(file?: string): string {
  return file ? `${file}: ` : '';
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown, file?: string): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const key = [...path, issue.keys[0]].join('.');
    return `${prefix(file)}${key}: unknown option (check the spelling; see README "Configuration")`;
  }
  const key = path.join('.') || '(top level)';
  const got = valueAt(raw, issue.path);
  const shown = got === undefined ? 'nothing' : JSON.stringify(got);
  return `${prefix(file)}${key}: ${issue.message}, got ${shown}`;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}
