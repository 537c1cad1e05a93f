// Local types for the CommonJS, untyped @xmpp 0.13 packages: only what
// src/xmpp/ uses. Keep both modules on ONE runtime copy of @xmpp/xml (see
// DESIGN.md "XMPP library pitfall").

declare module '@xmpp/xml' {
  type Attrs = Record<string, string | number | boolean | null | undefined>;
  type Child = Element | string | number | null | undefined | false;

  class Element {
    constructor(name: string, attrs?: Attrs);
    name: string;
    attrs: Record<string, string>;
    children: Array<Element | string>;
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    getAttr(name: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    text(): string;
    text(value: string): this;
    append(...children: Child[]): this;
    c(name: string, attrs?: Attrs): Element;
    t(text: string): this;
    up(): Element;
    root(): Element;
    clone(): Element;
    toString(): string;
  }

  class XMLError extends Error {}

  /** Streaming parser: 'start' (root), 'element' (each child of the root, whole), 'end', 'error'. */
  class Parser {
    on(event: 'start' | 'element' | 'end', listener: (el: Element) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    write(data: string): void;
  }

  function xml(name: string, attrs?: Attrs | null, ...children: Array<Child | Child[]>): Element;
  namespace xml {
    export { Element, Parser, XMLError, Attrs, Child };
  }
  export = xml;
}

declare module '@xmpp/component' {
  import type xmlModule from '@xmpp/xml';
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:net';

  type Element = xmlModule.Element;

  /** `status` values the connection goes through, in order. */
  export type Status =
    | 'offline' | 'connecting' | 'connect' | 'opening' | 'open' | 'online'
    | 'closing' | 'close' | 'disconnecting' | 'disconnect';

  export interface JID {
    local: string;
    domain: string;
    resource: string;
    toString(): string;
    bare(): JID;
  }

  /** Thrown/emitted for `<stream:error/>` and `<iq type="error"/>` replies. */
  export interface XMPPError extends Error {
    name: 'StreamError' | 'StanzaError' | string;
    condition: string;
    text: string;
    type?: string;
    element?: Element;
  }

  export interface IncomingContext {
    stanza: Element;
    entity: Component;
    name: string;
    id: string;
    type: string;
    from: JID | null;
    to: JID | null;
    /** Set by the IQ callee for get/set queries: the single payload child. */
    element?: Element;
  }

  export type Middleware = (ctx: IncomingContext, next: () => Promise<unknown>) => unknown;

  export interface Component extends EventEmitter {
    status: Status;
    jid: JID | null;
    socket: Socket | null;
    options: { service: string; domain: string };
    /** Connects, opens the stream, handshakes; resolves when online. Only from `offline`. */
    start(): Promise<void>;
    /** Closes the stream then the socket. */
    stop(): Promise<Element | undefined>;
    send(element: Element): Promise<void>;
    disconnect(timeout?: number): Promise<void>;
    reconnect: EventEmitter & { delay: number; start(): void; stop(): void };
    middleware: { use(fn: Middleware): Middleware; filter(fn: Middleware): Middleware };
    iqCaller: {
      /** Resolves with the `result` iq; rejects with a StanzaError or TimeoutError. */
      request(stanza: Element, timeoutMs?: number): Promise<Element>;
      get(element: Element, to?: string, timeoutMs?: number): Promise<Element>;
      set(element: Element, to?: string, timeoutMs?: number): Promise<Element>;
    };
    iqCallee: {
      get(ns: string, name: string, handler: Middleware): void;
      set(ns: string, name: string, handler: Middleware): void;
    };

    on(event: 'online', listener: (jid: JID) => void): this;
    on(event: 'offline', listener: (el?: Element) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'status', listener: (status: Status, ...args: unknown[]) => void): this;
    on(event: 'stanza' | 'element' | 'nonza' | 'send', listener: (el: Element) => void): this;
    on(event: 'input' | 'output', listener: (data: string) => void): this;
    on(event: Status, listener: (...args: unknown[]) => void): this;
  }

  export interface ComponentOptions {
    service: string;
    domain: string;
    password: string;
  }

  export function component(options: ComponentOptions): Component;
  export const xml: typeof xmlModule;
  export function jid(address: string): JID;
}

// Used by the tests only, as a real chat client logging in.
declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';
  import xmlModule from '@xmpp/xml';
  interface Client extends EventEmitter {
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    reconnect: { stop(): void };
    /** Resolves with the whole reply stanza; rejects with a StanzaError (`condition`) on type=error. */
    iqCaller: { request(stanza: xmlModule.Element, timeout?: number): Promise<xmlModule.Element> };
    send(stanza: xmlModule.Element): Promise<void>;
  }
  export const xml: typeof xmlModule.xml;
  type Auth = (creds: { username: string; password: string }) => Promise<void>;
  export function client(options: {
    service: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    credentials?: (auth: Auth, mechanism: string) => Promise<void>;
  }): Client;
}
