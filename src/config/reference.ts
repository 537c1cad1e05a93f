import type { z } from 'zod';
import { configSchema } from './schema.js';

interface Row {
  key: string;
  type: string;
  def: string;
  doc: string;
}

type AnyDef = { type: string; in?: z.ZodType; innerType?: z.ZodType; defaultValue?: unknown; shape?: Record<string, z.ZodType>; element?: z.ZodType; entries?: Record<string, string>; options?: z.ZodType[] };

const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: AnyDef } })._zod.def;

/** Walks the schema: one row per option, nested objects flattened to dotted keys. */
function rows(shape: Record<string, z.ZodType>, prefix = ''): Row[] {
  const out: Row[] = [];
  for (const [name, schema] of Object.entries(shape)) {
    let s = schema;
    let def: unknown;
    let doc = schema.description ?? '';
    for (;;) {
      const d = defOf(s);
      if (d.type === 'default' || d.type === 'prefault') def = d.defaultValue;
      if (!d.innerType) break;
      s = d.innerType;
      doc ||= s.description ?? '';
    }
    const d = defOf(s);
    const key = `${prefix}${name}`;
    if (d.type === 'object' && d.shape && name !== 'clients') {
      out.push(...rows(d.shape, `${key}.`));
      continue;
    }
    out.push({ key, type: typeName(s), def: def === undefined ? '' : JSON.stringify(def), doc });
    // A list of records (upstream.providers): one row per field of an entry, as `key[].field`.
    const item = d.type === 'array' && d.element ? defOf(d.element) : undefined;
    if (item?.type === 'object' && item.shape && name !== 'clients') out.push(...rows(item.shape, `${key}[].`));
  }
  return out;
}

function typeName(s: z.ZodType): string {
  const d = defOf(s);
  switch (d.type) {
    case 'array':
      return `list of ${typeName(d.element!)}`;
    case 'enum':
      return Object.values(d.entries ?? {}).map((v) => `\`${v}\``).join(' \\| ');
    case 'union':
      return (d.options ?? []).map(typeName).join(' or ');
    case 'object':
      return 'object';
    case 'pipe': // a transform: document what the operator writes
      return typeName(d.in!);
    default:
      return d.type;
  }
}

/** The README's configuration table, generated so it cannot drift from the schema. */
export function configReference(): string {
  const lines = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  for (const r of rows(configSchema.shape as unknown as Record<string, z.ZodType>)) {
    lines.push(`| \`${r.key}\` | ${r.type} | ${r.def ? `\`${r.def}\`` : ''} | ${r.doc} |`);
  }
  return lines.join('\n');
}
