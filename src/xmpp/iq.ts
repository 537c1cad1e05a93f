// IQ get/set routing by (type, payload namespace, payload name). Turns whatever a
// handler does (returns, refuses, throws) into exactly one reply payload.
import type { Logger } from '../log.js';
import { errorElement, iqError, IqError, isIqErrorReply, type IqErrorReply } from './errors.js';
import { isElement, type Element } from './xml.js';

export interface IqContext {
  /** Full JID of the requester, as stamped by the server. */
  from: string;
  to: string;
  id: string;
  type: 'get' | 'set';
  /** The single payload child of the `<iq/>`. */
  element: Element;
}

/** An Element becomes the result payload; nothing means an empty result. */
export type IqHandlerResult = Element | IqErrorReply | void | undefined;
export type IqHandler = (ctx: IqContext) => Promise<IqHandlerResult> | IqHandlerResult;

export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
}

export interface DiscoItem {
  jid: string;
  node?: string;
  name?: string;
}

/**
 * A disco node (XEP-0030 §3.2) a module publishes. Each answer may depend on
 * who asks; null means "no such node" for that requester.
 */
export interface DiscoNode {
  info?(from: string): { identities: DiscoIdentity[]; features: string[] } | null;
  items?(from: string): DiscoItem[] | null;
}

/** What a front-end module needs to plug into the link (builtins use only this). */
export interface IqRegistry {
  handleIq(type: 'get' | 'set', ns: string, name: string, handler: IqHandler): () => void;
  /** Advertise a disco#info feature that has no IQ handler of its own. */
  addFeature(ns: string): void;
  features(): string[];
  addDiscoNode(node: string, provider: DiscoNode): void;
  discoNode(node: string): DiscoNode | undefined;
}

/** `true` = empty result; an `<error/>` element = error reply; other element = result payload. */
export type IqReply = Element | true;

export class IqRouter implements IqRegistry {
  private readonly handlers = new Map<string, IqHandler>();
  private readonly extraFeatures = new Set<string>();
  private readonly nodes = new Map<string, DiscoNode>();

  constructor(private readonly log: Logger) {}

  handleIq(type: 'get' | 'set', ns: string, name: string, handler: IqHandler): () => void {
    const key = `${type} ${ns} ${name}`;
    // Two modules answering the same query is a wiring bug: fail at start-up.
    if (this.handlers.has(key)) throw new Error(`an IQ handler for ${key} is already registered`);
    this.handlers.set(key, handler);
    return () => {
      if (this.handlers.get(key) === handler) this.handlers.delete(key);
    };
  }

  addFeature(ns: string): void {
    this.extraFeatures.add(ns);
  }

  addDiscoNode(node: string, provider: DiscoNode): void {
    if (this.nodes.has(node)) throw new Error(`disco node ${node} is already registered`);
    this.nodes.set(node, provider);
  }

  discoNode(node: string): DiscoNode | undefined {
    return this.nodes.get(node);
  }

  features(): string[] {
    const namespaces = new Set(this.extraFeatures);
    for (const key of this.handlers.keys()) namespaces.add(key.split(' ')[1]!);
    return [...namespaces].sort();
  }

  async dispatch(ctx: IqContext): Promise<IqReply> {
    const { name } = ctx.element;
    const ns = ctx.element.attrs.xmlns ?? '';
    const handler = this.handlers.get(`${ctx.type} ${ns} ${name}`);
    // RFC 6120 §8.4: an unsupported payload namespace gets service-unavailable.
    if (!handler) return errorElement(iqError('service-unavailable'));
    try {
      const result = await handler(ctx);
      if (result === undefined || result === null) return true;
      if (isIqErrorReply(result)) return errorElement(result);
      if (isElement(result)) return result;
      // Typically an element built with a second copy of @xmpp/xml: the library
      // would silently send an empty result, so make it loud instead.
      this.log.warn({ ns, name }, 'IQ handler returned something that is not a stanza element from src/xmpp/xml.ts');
      return errorElement(iqError('internal-server-error'));
    } catch (err) {
      if (err instanceof IqError) return errorElement(err.toReply());
      this.log.warn({ err, ns, name, from: ctx.from }, 'IQ handler failed');
      return errorElement(iqError('internal-server-error'));
    }
  }
}
