// The XEP-0114 component connection, kept up in the background with our own
// retry policy (@xmpp/reconnect has no backoff and loops forever on a wrong
// secret). One fresh @xmpp/component entity per attempt, so no state leaks
// from a dead connection into the next one.
import { component, type Component } from '@xmpp/component';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Logger } from '../log.js';
import { Backoff, FATAL_RETRY_MS, type BackoffOptions } from './backoff.js';
import { installDisco } from './builtins/disco.js';
import { installPing, NS_PING } from './builtins/ping.js';
import { installVersion, type SoftwareInfo } from './builtins/version.js';
import { LinkOfflineError } from './errors.js';
import { classifyFailure, type LinkFailure } from './failure.js';
import { IqRouter, type DiscoIdentity, type DiscoNode, type IqHandler, type IqRegistry, type IqReply } from './iq.js';
import { startKeepalive } from './keepalive.js';
import { assertSingleXmlCopy, isElement, xml, type Element } from './xml.js';

export interface ComponentLinkOptions {
  /** e.g. `xmpp://127.0.0.1:5347` */
  service: string;
  /** The component's own domain, e.g. `auth.example.org`. */
  domain: string;
  secret: string;
  logger: Logger;
  software?: SoftwareInfo;
  /** disco#info identity; default `auth/generic` ("authentication service"). */
  identity?: DiscoIdentity;
  /** Connection failures: 0.5 s doubling to 3 s, jittered; authentication failures: `fatalMs`, 60 s. */
  backoff?: BackoffOptions;
  /**
   * A standby (the slot refused with `conflict`): 5 s doubling to 60 s, jittered.
   * Each refusal is an `error` line in Prosody's log, so a standby must not knock
   * every few seconds forever; slotFreed() brings it back at once.
   */
  standby?: { initialMs?: number; maxMs?: number };
  /**
   * How instances tell each other the slot is free (the store's news): stop()
   * announces it once the stream is closed, if this link held the slot; every
   * link listens from start() and, standing by, asks at once.
   */
  handover?: { announce(): Promise<void>; listen(onFreed: () => void): () => void };
  keepalive?: {
    /** Default 60 000; 0 disables. */
    intervalMs?: number;
    /** Default 10 000. */
    timeoutMs?: number;
    /** Who to ping; default the parent domain (`example.org` for `auth.example.org`). */
    target?: string;
  };
  /** From TCP connect to accepted handshake. Default 10 000. */
  connectTimeoutMs?: number;
}

/**
 * `idle` before start(); `connecting` during an attempt; `retrying` while
 * waiting for the next one; `stopped` after stop().
 */
export type LinkState = 'idle' | 'connecting' | 'online' | 'retrying' | 'stopped';

export interface LinkStatus {
  state: LinkState;
  online: boolean;
  /** Another instance holds the component slot (Prosody takes one connection per component) and this one waits to take over. */
  standby: boolean;
  /** Why the last attempt failed or the link dropped (no secrets). */
  lastFailure?: LinkFailure;
}

export type StatusListener = (status: LinkStatus) => void;

// Per-connection bookkeeping; `down` settles once, when the socket is gone.
interface Attempt {
  entity: Component;
  wasOnline: boolean;
  failure?: unknown;
  finished: boolean;
  down: Promise<never>;
  rejectDown: (err: Error) => void;
  timer?: NodeJS.Timeout;
  stopKeepalive?: () => void;
  /** Date.now() of the last bytes from the server. */
  lastInputAt: number;
  /** Our outgoing IQs by id. */
  pending: Map<string, PendingIq>;
}

/** An IQ we sent and wait for: only `to` may answer it (XEP-0114 lets any local user address us). */
interface PendingIq {
  to: string;
  resolve: (reply: Element) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

// @xmpp's own StanzaError, so callers see the same error whichever path answered.
const StanzaError = createRequire(import.meta.url)('@xmpp/middleware/lib/StanzaError.js') as { fromElement(el: Element): Error };

const DEFAULT_SOFTWARE: SoftwareInfo = { name: 'xmpp-oauth', version: '0.0.0' };

export class ComponentLink implements IqRegistry {
  private readonly opts: ComponentLinkOptions;
  private readonly log: Logger;
  private readonly router: IqRouter;
  private readonly backoff: Backoff;
  private readonly standbyBackoff: Backoff;
  private readonly listeners = new Set<StatusListener>();
  private attempt?: Attempt;
  private retryTimer?: NodeJS.Timeout;
  private _state: LinkState = 'idle';
  private lastFailure?: LinkFailure;
  // The fatal reason already logged at `error`: each one is logged once per outage.
  private reportedFatal?: string;
  /** The connection failure already reported at warn in this outage (the short retries would repeat it every few seconds). */
  private reportedUnreachable?: string;
  private standingBy = false;
  private stopListening?: () => void;

  constructor(opts: ComponentLinkOptions) {
    assertSingleXmlCopy();
    this.opts = opts;
    this.log = opts.logger.child({ component: 'xmpp-link', domain: opts.domain });
    this.router = new IqRouter(this.log);
    this.backoff = new Backoff(opts.backoff);
    this.standbyBackoff = new Backoff({ initialMs: opts.standby?.initialMs ?? STANDBY_FIRST_MS, maxMs: opts.standby?.maxMs ?? STANDBY_MAX_MS });
    const software = opts.software ?? DEFAULT_SOFTWARE;
    installPing(this);
    installVersion(this, software);
    installDisco(this, opts.identity ?? { category: 'auth', type: 'generic', name: software.name });
  }

  get domain(): string {
    return this.opts.domain;
  }

  get state(): LinkState {
    return this._state;
  }

  /** True only while stanzas can actually be written. */
  get online(): boolean {
    return this.usable() !== undefined;
  }

  get status(): LinkStatus {
    const online = this.online;
    return { state: this._state, online, standby: !online && this.standingBy && this._state !== 'stopped', lastFailure: this.lastFailure };
  }

  /** Subscribe to state changes (readiness); returns an unsubscribe function. */
  onStatus(listener: StatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when online; rejects after `timeoutMs` or if the link is stopped. */
  waitOnline(timeoutMs = 30_000): Promise<void> {
    if (this.online) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`component link not online after ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onStatus(({ state }) => {
        if (state !== 'online' && state !== 'stopped') return;
        clearTimeout(timer);
        off();
        if (state === 'online') resolve();
        else reject(new LinkOfflineError('component link stopped'));
      });
    });
  }

  handleIq(type: 'get' | 'set', ns: string, name: string, handler: IqHandler): () => void {
    return this.router.handleIq(type, ns, name, handler);
  }

  addFeature(ns: string): void {
    this.router.addFeature(ns);
  }

  features(): string[] {
    return this.router.features();
  }

  addDiscoNode(node: string, provider: DiscoNode): void {
    this.router.addDiscoNode(node, provider);
  }

  discoNode(node: string): DiscoNode | undefined {
    return this.router.discoNode(node);
  }

  /** Connects in the background and keeps reconnecting until stop(). */
  start(): void {
    if (this._state !== 'idle') throw new Error(`ComponentLink.start() called in state ${this._state}`);
    this.stopListening = this.opts.handover?.listen(() => this.slotFreed());
    this.connect();
  }

  /**
   * The slot may be free (the instance that held it says it let go): a standby
   * asks at once, after a short jitter so several standbys do not collide, and
   * its long backoff starts over. Does nothing unless standing by.
   */
  slotFreed(): void {
    if (!this.standingBy || this._state !== 'retrying') return;
    clearTimeout(this.retryTimer);
    this.standbyBackoff.reset();
    const delay = Math.round(Math.random() * 500);
    this.log.info({ retryInMs: delay }, 'the component slot may be free: asking for it now');
    this.retryTimer = setTimeout(() => {
      if (this._state !== 'stopped') this.connect();
    }, delay);
  }

  /** Closes the stream cleanly (bounded wait) and stops retrying. */
  async stop(): Promise<void> {
    if (this._state === 'stopped') return;
    const held = this.online;
    this.setState('stopped');
    this.stopListening?.();
    clearTimeout(this.retryTimer);
    const attempt = this.attempt;
    if (!attempt) return;
    attempt.stopKeepalive?.();
    let peerClosed = false;
    if (attempt.entity.status === 'online') {
      // RFC 6120 4.4: send </stream:stream>, wait for the server's (2 s),
      // then end the socket (2 s more): @xmpp/connection's stop() does both
      // and resolves with the server's closed stream element, if it came.
      peerClosed = (await attempt.entity.stop().catch(() => undefined)) !== undefined;
    }
    attempt.entity.socket?.destroy();
    // Prosody 0.12 logs "component disconnected: <domain> (stream error)" even
    // for this clean close (mod_component hard-codes the reason); `peerClosed`
    // tells it from a real one.
    this.log.info({ peerClosed }, peerClosed ? 'component link stopped: stream closed by both sides' : 'component link stopped');
    // Only now is the slot free: a standby told earlier would be refused again.
    if (held) await this.opts.handover?.announce().catch(() => undefined);
  }

  /**
   * Sends a stanza if online; returns false (and writes nothing) otherwise.
   * Write errors after that are logged, not thrown: the link reconnects by itself.
   */
  send(stanza: Element): boolean {
    if (!isElement(stanza)) throw new TypeError('ComponentLink.send() needs an element built with src/xmpp/xml.ts');
    const attempt = this.usable();
    if (!attempt) {
      this.log.debug({ stanza: stanza.name }, 'component link offline: stanza not sent');
      return false;
    }
    attempt.entity.send(stanza).catch((err: unknown) => this.log.warn({ err }, 'could not send stanza'));
    return true;
  }

  /**
   * Sends an IQ get/set and resolves with the `result` iq. Rejects with a
   * StanzaError (`condition`) on an error reply, TimeoutError, or
   * LinkOfflineError if the link is (or goes) down.
   */
  request(iq: Element, timeoutMs = 10_000): Promise<Element> {
    if (!isElement(iq)) throw new TypeError('ComponentLink.request() needs an element built with src/xmpp/xml.ts');
    if (!iq.attrs.to) throw new TypeError('ComponentLink.request() needs a `to`: only that entity may answer');
    const attempt = this.usable();
    if (!attempt) return Promise.reject(new LinkOfflineError());
    // Not @xmpp/iq's caller: it takes the first reply with a matching id from
    // anyone, and its ids come from Math.random. Ours are 128 random bits.
    const id = randomBytes(16).toString('base64url');
    iq.attrs.id = id;
    const reply = new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        attempt.pending.delete(id);
        reject(Object.assign(new Error(`no reply from ${String(iq.attrs.to)} within ${timeoutMs} ms`), { name: 'TimeoutError' }));
      }, timeoutMs);
      attempt.pending.set(id, { to: canonicalJid(String(iq.attrs.to)), resolve, reject, timer });
      attempt.entity.send(iq).catch((err: unknown) => {
        clearTimeout(timer);
        attempt.pending.delete(id);
        reject(err as Error);
      });
    });
    return Promise.race([reply, attempt.down]);
  }

  /** A result or error IQ: settles the request it answers, if it comes from the entity asked. */
  private onReply(attempt: Attempt, stanza: Element): void {
    const id = String(stanza.attrs.id ?? '');
    const pending = attempt.pending.get(id);
    if (!pending) {
      this.log.debug({ type: stanza.attrs.type }, 'IQ reply to no request of ours: ignored');
      return;
    }
    const from = String(stanza.attrs.from ?? '');
    if (canonicalJid(from) !== pending.to) {
      // Still waiting for the real answer, which is not this one.
      this.log.info({ from: from.slice(0, 200), asked: pending.to }, 'IQ reply from an entity that was not asked: ignored');
      return;
    }
    attempt.pending.delete(id);
    clearTimeout(pending.timer);
    const error = stanza.attrs.type === 'error' ? stanza.getChild('error') : undefined;
    if (error) pending.reject(StanzaError.fromElement(error));
    else if (stanza.attrs.type === 'error') pending.reject(Object.assign(new Error('error reply without <error/>'), { name: 'StanzaError', condition: 'undefined-condition' }));
    else pending.resolve(stanza);
  }

  private usable(): Attempt | undefined {
    const a = this.attempt;
    if (!a || this._state !== 'online' || a.entity.status !== 'online') return undefined;
    const socket = a.entity.socket;
    return socket && socket.writable && !socket.destroyed ? a : undefined;
  }

  private setState(state: LinkState): void {
    if (this._state === state) return;
    this._state = state;
    const status = this.status;
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (err) {
        this.log.warn({ err }, 'status listener failed');
      }
    }
  }

  private connect(): void {
    const entity = component({ service: this.opts.service, domain: this.opts.domain, password: this.opts.secret });
    entity.reconnect.stop();
    let rejectDown!: (err: Error) => void;
    const down = new Promise<never>((_, reject) => (rejectDown = reject));
    down.catch(() => undefined); // only observed through request()
    const attempt: Attempt = { entity, wasOnline: false, finished: false, down, rejectDown, lastInputAt: 0, pending: new Map() };
    this.attempt = attempt;
    this.setState('connecting');

    // Always listening: an unheard 'error' event would crash the process, and
    // late replies from a dead entity still report write failures here.
    entity.on('error', (err) => {
      if (attempt.finished) return this.log.debug({ err }, 'error on a closed component connection');
      attempt.failure ??= err;
      // Any stream-level error leaves the connection unusable (the library
      // does not even close it after a parser error): drop it and retry.
      this.teardown(attempt);
    });
    entity.on('online', () => this.onOnline(attempt));
    entity.on('status', (status) => {
      // TCP keep-alive catches a vanished peer even when ping replies cannot
      // reach us (see ping()); cheap, so always on.
      // No Nagle (issue 25): each stanza is one write, and a reply written while
      // the previous one is unacknowledged would otherwise wait for the XMPP
      // server's delayed ACK (~40 ms on Linux); seen as SCRAM logins of 30-50 ms.
      if (status === 'connect') entity.socket?.setKeepAlive(true, 30_000).setNoDelay(true);
      // The server closed its stream without an error: finish the close ourselves.
      if (status === 'close' && this._state !== 'stopped') this.teardown(attempt);
    });
    entity.on('input', () => {
      attempt.lastInputAt = Date.now();
    });
    entity.on('disconnect', () => this.onDown(attempt));
    entity.middleware.use(async (ctx) => {
      if (ctx.name === 'iq' && (ctx.type === 'result' || ctx.type === 'error')) {
        this.onReply(attempt, ctx.stanza);
        return undefined;
      }
      // Runs after @xmpp/iq's callee, which has validated get/set queries and
      // turns what we return into the reply; other stanzas end here.
      if (ctx.name !== 'iq' || (ctx.type !== 'get' && ctx.type !== 'set') || !ctx.element) return undefined;
      const reply: IqReply = await this.router.dispatch({
        from: ctx.stanza.attrs.from ?? '',
        to: ctx.stanza.attrs.to ?? '',
        id: ctx.id,
        type: ctx.type as 'get' | 'set',
        element: ctx.element,
      });
      // @xmpp/iq's callee echoes the request payload in an error reply; its
      // text may be a password or a token, so keep only the element and attributes.
      if (reply !== true && reply.is('error')) ctx.element.children = [];
      return reply;
    });

    attempt.timer = setTimeout(() => {
      attempt.failure ??= Object.assign(new Error('timed out connecting'), { name: 'TimeoutError' });
      this.teardown(attempt);
    }, this.opts.connectTimeoutMs ?? 10_000);

    entity.start().catch((err: unknown) => {
      // Usually already reported through 'error'; open() timeouts are not.
      attempt.failure ??= err;
      this.teardown(attempt);
    });
  }

  private onOnline(attempt: Attempt): void {
    if (attempt.finished || this._state === 'stopped') return;
    clearTimeout(attempt.timer);
    attempt.wasOnline = true;
    this.backoff.reset();
    this.standbyBackoff.reset();
    this.standingBy = false;
    this.reportedFatal = undefined;
    this.reportedUnreachable = undefined;
    this.lastFailure = undefined;
    const ka = this.opts.keepalive ?? {};
    const target = ka.target ?? parentDomain(this.opts.domain);
    attempt.stopKeepalive = startKeepalive(
      { intervalMs: ka.intervalMs ?? 60_000, timeoutMs: ka.timeoutMs ?? 10_000 },
      (timeoutMs) => this.ping(attempt, target, timeoutMs),
      () => {
        this.log.warn({ target }, 'keep-alive ping unanswered: reconnecting');
        attempt.failure ??= Object.assign(new Error('keep-alive ping timed out'), { name: 'TimeoutError' });
        this.teardown(attempt);
      },
    );
    this.log.info({ service: this.opts.service }, 'component link online');
    this.setState('online');
  }

  // Any answer, even an error reply, proves the stream is alive; so does any
  // other input meanwhile: ejabberd load-balances several connections of one
  // component and may deliver our ping's reply to a sibling instance.
  private async ping(attempt: Attempt, target: string, timeoutMs: number): Promise<void> {
    const sentAt = Date.now();
    try {
      await this.request(xml('iq', { type: 'get', to: target }, xml('ping', { xmlns: NS_PING })), timeoutMs);
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'StanzaError' || (name === 'TimeoutError' && attempt.lastInputAt >= sentAt)) return;
      throw err;
    }
  }

  // Destroying the socket is the one path that always ends in 'disconnect'.
  private teardown(attempt: Attempt): void {
    if (attempt.finished) return;
    const socket = attempt.entity.socket;
    if (socket) setImmediate(() => socket.destroy());
    else this.onDown(attempt);
  }

  private onDown(attempt: Attempt): void {
    if (attempt.finished) return;
    attempt.finished = true;
    clearTimeout(attempt.timer);
    attempt.stopKeepalive?.();
    attempt.rejectDown(new LinkOfflineError('component link went down'));
    for (const pending of attempt.pending.values()) clearTimeout(pending.timer);
    attempt.pending.clear();
    if (this.attempt !== attempt || this._state === 'stopped') return;

    const failure = classifyFailure(attempt.failure ?? Object.assign(new Error('connection closed'), { code: 'closed' }));
    this.lastFailure = failure;
    if (failure.reason !== 'conflict') {
      this.standingBy = false;
      this.standbyBackoff.reset();
    }
    let delay: number;
    if (attempt.wasOnline) {
      delay = this.backoff.next();
      this.log.warn({ reason: failure.reason, detail: failure.message, retryInMs: delay }, 'component link lost');
    } else if (failure.kind === 'fatal') {
      // Retrying cannot fix a wrong secret or domain, but the operator may fix
      // the server side without restarting us: retry slowly, report once.
      const fatalMs = this.opts.backoff?.fatalMs ?? FATAL_RETRY_MS;
      delay = Math.round(fatalMs * (0.8 + Math.random() / 5));
      if (this.reportedFatal !== failure.reason) {
        this.reportedFatal = failure.reason;
        this.log.error({ reason: failure.reason, detail: failure.message, hint: failure.hint, retryInMs: delay },
          'XMPP server refused the component');
      } else {
        this.log.debug({ reason: failure.reason, retryInMs: delay }, 'component still refused');
      }
    } else if (failure.reason === 'conflict') {
      // Another instance holds the slot (Prosody takes one connection per
      // component, and logs every refused one at error): stand by, asking
      // less and less often (jittered, so standbys do not knock in step).
      delay = this.standbyBackoff.next();
      if (!this.standingBy) this.log.info({ retryInMs: delay }, 'another instance holds the component slot; standing by');
      else this.log.debug({ retryInMs: delay }, 'component slot still held by another instance');
      this.standingBy = true;
    } else {
      delay = this.backoff.next();
      if (this.reportedUnreachable !== failure.reason) {
        this.reportedUnreachable = failure.reason;
        this.log.warn({ reason: failure.reason, detail: failure.message, retryInMs: delay },
          'component link could not connect; retrying every few seconds (further failures of this kind are logged at debug)');
      } else {
        this.log.debug({ reason: failure.reason, retryInMs: delay }, 'component link still could not connect');
      }
    }
    this.setState('retrying');
    this.retryTimer = setTimeout(() => {
      if (this._state !== 'stopped') this.connect();
    }, delay);
  }
}

/** A standby's first wait after the slot was refused, and the longest (each jittered to 50-100 %). */
const STANDBY_FIRST_MS = 5_000;
const STANDBY_MAX_MS = 60_000;

/** A JID as compared for replies: the bare part case-folded, the resource exact. */
function canonicalJid(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? jid.toLowerCase() : jid.slice(0, slash).toLowerCase() + jid.slice(slash);
}

/** `auth.example.org` → `example.org`; a single-label domain pings itself. */
function parentDomain(domain: string): string {
  const dot = domain.indexOf('.');
  return dot > 0 && dot < domain.length - 1 ? domain.slice(dot + 1) : domain;
}
