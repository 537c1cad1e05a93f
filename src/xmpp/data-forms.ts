// XEP-0004 data forms: just what the ad-hoc commands need, building forms and
// reading submitted ones. No XML outside src/xmpp/xml.ts's `xml`.
import { xml, type Element } from './xml.js';

export const NS_DATA = 'jabber:x:data';

export type FieldType = 'hidden' | 'fixed' | 'text-single' | 'jid-single' | 'list-single' | 'list-multi' | 'boolean';

export interface Field {
  var?: string;
  type: FieldType;
  label?: string;
  required?: boolean;
  values?: string[];
  options?: { label: string; value: string }[];
}

export interface FormSpec {
  type: 'form' | 'result';
  title?: string;
  instructions?: string;
  fields?: Field[];
  /** A table: column definitions, then one row per item (values by `var`). */
  reported?: Field[];
  items?: Record<string, string>[];
}

function fieldElement(f: Field, withValues = true): Element {
  return xml(
    'field',
    { var: f.var, type: f.type, label: f.label },
    f.required ? xml('required') : null,
    ...(withValues ? (f.values ?? []).map((v) => xml('value', {}, v)) : []),
    ...(f.options ?? []).map((o) => xml('option', { label: o.label }, xml('value', {}, o.value))),
  );
}

export function buildForm(spec: FormSpec): Element {
  return xml(
    'x',
    { xmlns: NS_DATA, type: spec.type },
    spec.title ? xml('title', {}, spec.title) : null,
    spec.instructions ? xml('instructions', {}, spec.instructions) : null,
    ...(spec.fields ?? []).map((f) => fieldElement(f)),
    spec.reported ? xml('reported', {}, ...spec.reported.map((f) => fieldElement(f, false))) : null,
    ...(spec.items ?? []).map((row) =>
      xml('item', {}, ...Object.entries(row).map(([name, value]) => xml('field', { var: name }, xml('value', {}, value)))),
    ),
  );
}

/** A submitted form: field var → values. Limits keep a hostile form cheap to read. */
export type Submitted = Map<string, string[]>;

export function readSubmitted(x: Element | undefined): Submitted | undefined {
  if (!x || x.attrs.type !== 'submit') return undefined;
  const out: Submitted = new Map();
  for (const field of x.getChildren('field').slice(0, 50)) {
    const name = field.attrs.var;
    if (typeof name !== 'string' || name.length > 100) continue;
    out.set(
      name,
      field
        .getChildren('value')
        .slice(0, 500)
        .map((v) => v.getText().trim()),
    );
  }
  return out;
}

export function single(form: Submitted | undefined, name: string): string | undefined {
  const v = form?.get(name)?.[0];
  return v ? v : undefined;
}
