// The one place that touches @xmpp/xml. Stanzas MUST be built with the copy
// @xmpp/component uses: the IQ callee checks `instanceof Element`, and an
// element from another copy is silently replied to as an empty result.
import { createRequire } from 'node:module';
import { xml as componentXml } from '@xmpp/component';
import xmlModule from '@xmpp/xml';

/**
 * The component's `xml`, made safe for text we do not control (client names,
 * user input): characters XML 1.0 cannot carry would make the XMPP server's
 * parser close our stream, so they are replaced before they are written.
 */
export function xml(name: string, attrs?: Attrs | null, ...children: Array<Child | Child[]>): Element {
  return componentXml(name, attrs ? cleanAttrs(attrs) : attrs, ...children.map(cleanChild));
}

// XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlSafe(text: string): string {
  return text.replace(NOT_XML_CHAR, '\uFFFD');
}

type Attrs = xmlModule.Attrs;
type Child = xmlModule.Child;

function cleanChild(child: Child | Child[]): Child | Child[] {
  if (typeof child === 'string') return xmlSafe(child);
  if (Array.isArray(child)) return child.map((c) => cleanChild(c) as Child);
  return child;
}

function cleanAttrs(attrs: Attrs): Attrs {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = typeof v === 'string' ? xmlSafe(v) : v;
  return out as Attrs;
}
export type Element = xmlModule.Element;
export const Element = xmlModule.Element;

export function isElement(value: unknown): value is Element {
  return value instanceof Element;
}

/**
 * Throws at start-up if npm installed a second @xmpp/xml whose Element class
 * differs from the one @xmpp/iq's callee checks against (npm dedupe fixes it).
 */
export function assertSingleXmlCopy(): void {
  const require = createRequire(import.meta.url);
  const fromComponent = createRequire(require.resolve('@xmpp/component'));
  const fromIq = createRequire(fromComponent.resolve('@xmpp/iq/callee'));
  const calleeElement = (fromIq('@xmpp/xml') as typeof xmlModule).Element;
  if (!(xml('probe') instanceof calleeElement) || !(xml('probe') instanceof Element)) {
    throw new Error(
      'Several copies of @xmpp/xml are installed; stanzas would be sent empty. ' +
        'Run `npm dedupe` (or pin @xmpp/xml to the version @xmpp/component uses).',
    );
  }
}
