import { stringify } from 'yaml';
import type { Config } from './schema.js';
import { SECRET_KEYS } from './schema.js';

/** The effective configuration as YAML, with every secret masked. */
export function printableConfig(config: Config): string {
  return stringify(mask(config));
}

function mask(value: unknown, key = ''): unknown {
  if (SECRET_KEYS.has(key) && value !== undefined && value !== '') {
    if (key === 'url' && typeof value === 'string') return maskUrl(value);
    return Array.isArray(value) ? value.map(() => '********') : '********';
  }
  if (Array.isArray(value)) return value.map((v) => mask(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
  }
  return value;
}

function maskUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '********';
    return u.toString();
  } catch {
    return '********';
  }
}
