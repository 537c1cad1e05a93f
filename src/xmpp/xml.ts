// The one place that touches @xmpp/xml. Stanzas MUST be built with the copy
// @xmpp/component uses: the IQ callee checks `instanceof Element`, and an
// element from another copy is silently replied to as an empty result.
import { createRequire } from 'node:module';
import { xml as componentXml } from '@xmpp/component';
import xmlModule from '@xmpp/xml';

export const xml = componentXml;
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
