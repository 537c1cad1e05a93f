// Defensive decoding of activity records: a corrupt or foreign value reads as absent.
import { parseJson } from '../codec.js';
import type { ActivityEntry, QueuedNotice } from './types.js';

const FIELDS = ['address', 'userAgent', 'method', 'client', 'detail', 'by'] as const;

export function decodeEntry(o: Record<string, unknown> | null): ActivityEntry | null {
  if (!o || typeof o.kind !== 'string' || typeof o.at !== 'number' || !Number.isFinite(o.at)) return null;
  const entry: ActivityEntry = { kind: o.kind, at: o.at };
  for (const f of FIELDS) if (typeof o[f] === 'string') entry[f] = o[f];
  if (Array.isArray(o.scope) && o.scope.every((s) => typeof s === 'string')) entry.scope = o.scope as string[];
  return entry;
}

export const parseEntry = (text: string): ActivityEntry | null => decodeEntry(parseJson(text));

export function parseNotice(text: string): QueuedNotice | null {
  const o = parseJson(text);
  if (!o || typeof o.id !== 'string' || typeof o.jid !== 'string') return null;
  const entry = decodeEntry(o.entry !== null && typeof o.entry === 'object' ? (o.entry as Record<string, unknown>) : null);
  return entry ? { id: o.id, jid: o.jid, entry } : null;
}
