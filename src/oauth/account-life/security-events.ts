// An account's security events (issue 26 #5), recorded where they happen, and
// the "new access" notices some of them queue for the XMPP side (#4).
//
// Recording never holds up the step that causes it: `recordSecurityEvent`
// returns at once, writes in the background (one store round trip), and a
// failure is logged at info and otherwise ignored. Nothing secret is ever
// recorded: no token, password, app password or code; only names, scopes,
// addresses and user agents.
//
// The address and user agent come with the event, or from the ambient
// context a front door set for the request (`withEventContext`), so a core
// step deep inside a request needs no extra parameter to name them.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { ActivityEntry, ActivityLimits, ActivityLog } from '../../store/activity/types.js';
import type { Store } from '../../store/types.js';

export type SignInMethod = 'password' | 'otp' | 'passkey' | 'recovery-code' | 'upstream';
export type SecondFactor = 'totp' | 'passkey' | 'recovery-codes';

/** What happened. Each kind carries only what the activity page and a notice say about it. */
export type SecurityEvent =
  /** A web sign-in: `method` is how it ended (`password`, `passkey` alone, `upstream`); `secondFactor` when one was asked. */
  | { kind: 'web-sign-in'; method: SignInMethod; secondFactor?: 'otp' | 'passkey' | 'recovery-code'; provider?: string }
  /** A chat client logged in. `mechanism`: the SASL mechanism where known (PLAIN, SCRAM-SHA-256, OAUTHBEARER...). */
  | { kind: 'xmpp-login'; via: 'password' | 'token' | 'app-password'; mechanism?: string; client?: string; software?: string; device?: string }
  | { kind: 'app-approved'; client: string; scope: string[]; flow?: 'code' | 'device' }
  | { kind: 'app-revoked'; client: string; by: string }
  | { kind: 'app-password-created'; label: string; scope: string[] }
  | { kind: 'app-password-revoked'; label: string; by: string }
  | { kind: 'factor-added'; factor: SecondFactor; name?: string }
  | { kind: 'factor-removed'; factor: SecondFactor; name?: string }
  | { kind: 'password-changed'; by: string }
  | { kind: 'account-disabled'; by: string }
  | { kind: 'account-enabled'; by: string };

export type SecurityEventKind = SecurityEvent['kind'];

/** Where an event came from: the browser's (or chat client's) address and user agent, when known. */
export interface EventContext {
  address?: string;
  userAgent?: string;
  /** Set during the request when the second factor was a recovery code (RFC 8176 has no amr for one: it shows as otp). */
  recoveryCodeUsed?: boolean;
}

/** A recorded event, as read back: the event, when, and from where. */
export type RecordedEvent = SecurityEvent & { at: number } & EventContext;

/** The kinds the user is told about over XMPP (issue 26 #4): a new way into the account, or a changed lock. */
export const NOTICE_KINDS: ReadonlySet<SecurityEventKind> = new Set([
  'app-approved',
  'app-password-created',
  'factor-added',
  'factor-removed',
  'password-changed',
]);

/**
 * The notice queue is shared by the deployment: each account may queue 20 a
 * day, so one account's flood (approving apps in a loop) cannot push other
 * accounts' notices out; the activity page still lists every event. The
 * whole queue's bound is a memory backstop only.
 */
const NOTICE_LIMITS = { perAccount: 20, max: 100_000, ttlSeconds: 86400 };

/** What the composition root configures (config `activity.*` and `notices.*`). */
export interface ActivitySettings {
  /** Events kept per account. */
  max: number;
  /** The log expires this long after its latest event. */
  ttlSeconds: number;
  /** XMPP logins of one account with one client and way of logging in are recorded at most once per this many seconds. */
  xmppLoginWindowSeconds: number;
  /** Notices for accounts that made no choice of their own. */
  noticesByDefault: boolean;
  log?: Pick<Logger, 'info'>;
}

export const DEFAULT_ACTIVITY_SETTINGS: ActivitySettings = {
  max: 100,
  ttlSeconds: 90 * 86400,
  xmppLoginWindowSeconds: 3600,
  noticesByDefault: true,
};

// Per store, so several servers in one process (tests) keep their own settings.
const settingsOf = new WeakMap<ActivityLog, ActivitySettings>();

/** Called once per store by whoever builds the core (server, CLI). */
export function configureSecurityEvents(store: Pick<Store, 'activity'>, settings: Partial<ActivitySettings>): void {
  settingsOf.set(store.activity, { ...DEFAULT_ACTIVITY_SETTINGS, ...settings });
}

export function activitySettings(store: Pick<Store, 'activity'>): ActivitySettings {
  return settingsOf.get(store.activity) ?? DEFAULT_ACTIVITY_SETTINGS;
}

const ambient = new AsyncLocalStorage<EventContext>();

/** Runs `fn` with `context` as the origin of every event recorded inside it (a front door calls this per request). */
export function withEventContext<T>(context: EventContext, fn: () => T): T {
  return ambient.run(context, fn);
}

export function currentEventContext(): EventContext {
  return ambient.getStore() ?? {};
}

/**
 * What the second-factor core reports (SecondFactors' onChange): factor
 * changes are events; a recovery code's use marks the request, so the
 * sign-in it finishes is recorded as one with a recovery code, not "otp".
 */
export function recordFactorChange(
  deps: RecordDeps,
  jid: string,
  change: { kind: 'factor-added' | 'factor-removed'; factor: 'totp' | 'recovery-codes' } | { kind: 'factor-used'; factor: 'recovery-code' },
): void {
  if (change.kind === 'factor-used') {
    const context = ambient.getStore();
    if (context) context.recoveryCodeUsed = true;
    return;
  }
  void recordSecurityEvent(deps, jid, change);
}

const MAX_TEXT = 200;
const MAX_SCOPES = 20;

/** A field fit to store and show: a string, no control characters, bounded. */
function text(v: unknown, max = MAX_TEXT): string | undefined {
  if (typeof v !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex
  const s = v.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return s ? [...s].slice(0, max).join('') : undefined;
}

/** The event as the store keeps it: a flat record with bounded fields. */
export function toEntry(event: SecurityEvent, context: EventContext, at: number): ActivityEntry {
  const e = event as Record<string, unknown>;
  const scope = Array.isArray(e.scope) ? (e.scope as unknown[]).map((s) => text(s, 100)).filter((s): s is string => Boolean(s)).slice(0, MAX_SCOPES) : undefined;
  const method = e.method ?? e.mechanism ?? e.factor;
  const client = e.client ?? e.label ?? e.provider;
  const detail = event.kind === 'xmpp-login' ? [event.via, event.software, event.device].filter(Boolean).join(' · ') : (e.name ?? e.secondFactor ?? e.flow);
  const entry: ActivityEntry = { kind: event.kind, at };
  const put = (k: keyof ActivityEntry, v: string | undefined) => {
    if (v) (entry as unknown as Record<string, unknown>)[k] = v;
  };
  put('address', text(context.address, 64));
  put('userAgent', text(context.userAgent, 300));
  put('method', text(method, 64));
  put('client', text(client));
  put('detail', text(detail));
  put('by', text(e.by, 100));
  if (scope?.length) entry.scope = scope;
  return entry;
}

const KINDS = new Set<string>([
  'web-sign-in', 'xmpp-login', 'app-approved', 'app-revoked', 'app-password-created', 'app-password-revoked',
  'factor-added', 'factor-removed', 'password-changed', 'account-disabled', 'account-enabled',
]);

/** A stored record read back as an event; null for a kind this version does not know. */
export function fromEntry(entry: ActivityEntry): RecordedEvent | null {
  if (!KINDS.has(entry.kind)) return null;
  const base = { at: entry.at, address: entry.address, userAgent: entry.userAgent };
  const scope = entry.scope ?? [];
  switch (entry.kind) {
    case 'web-sign-in':
      return { ...base, kind: 'web-sign-in', method: (entry.method ?? 'password') as SignInMethod, secondFactor: entry.detail as 'otp' | 'passkey' | 'recovery-code' | undefined, provider: entry.client };
    case 'xmpp-login': {
      const [via, software, device] = (entry.detail ?? '').split(' · ');
      return { ...base, kind: 'xmpp-login', via: (via || 'password') as 'password' | 'token' | 'app-password', mechanism: entry.method, client: entry.client, software: software || undefined, device: device || undefined };
    }
    case 'app-approved':
      return { ...base, kind: 'app-approved', client: entry.client ?? '', scope, flow: entry.detail as 'code' | 'device' | undefined };
    case 'app-password-created':
      return { ...base, kind: 'app-password-created', label: entry.client ?? '', scope };
    case 'app-password-revoked':
      return { ...base, kind: 'app-password-revoked', label: entry.client ?? '', by: entry.by ?? '' };
    case 'factor-added':
    case 'factor-removed':
      return { ...base, kind: entry.kind, factor: (entry.method ?? 'totp') as SecondFactor, name: entry.detail };
    default:
      return { ...base, kind: entry.kind as 'app-revoked', client: entry.client ?? '', by: entry.by ?? '' } as RecordedEvent;
  }
}

interface RecordDeps {
  store: Pick<Store, 'activity'>;
  log?: Pick<Logger, 'info'>;
}

/**
 * Records `event` for `jid` in the background: returns at once, never throws;
 * the promise (for tests) settles when the write is done or has failed. XMPP
 * logins are coalesced: at most one per account, client and way of logging in
 * per `xmppLoginWindowSeconds`. The notice kinds also queue a notice.
 */
export function recordSecurityEvent(deps: RecordDeps, jid: string, event: SecurityEvent, context?: EventContext): Promise<void> {
  const settings = activitySettings(deps.store);
  const activity = deps.store.activity;
  // A busy client's repeated logins end here, before any work: no round trip, no allocation to speak of.
  const ambientContext = currentEventContext();
  const key = event.kind === 'xmpp-login' ? coalesceKey(event, context?.address ?? ambientContext.address) : undefined;
  if (key !== undefined && seenRecently(activity, jid, key, settings.xmppLoginWindowSeconds)) return Promise.resolve();
  const log = deps.log ?? settings.log;
  if (event.kind === 'web-sign-in' && event.secondFactor === 'otp' && ambientContext.recoveryCodeUsed) event = { ...event, secondFactor: 'recovery-code' };
  const entry = toEntry(event, { ...ambientContext, ...context }, Date.now());
  const limits: ActivityLimits = { max: settings.max, ttlSeconds: settings.ttlSeconds };
  const done = (async () => {
    if (key !== undefined) {
      await activity.appendCoalesced(jid, entry, limits, { key, windowSeconds: settings.xmppLoginWindowSeconds });
      return;
    }
    await Promise.all([
      activity.append(jid, entry, limits),
      NOTICE_KINDS.has(event.kind) ? activity.queueNotice({ id: randomUUID(), jid, entry }, NOTICE_LIMITS) : undefined,
    ]);
  })();
  return done.catch((err: unknown) => {
    log?.info({ jid, kind: event.kind, error: (err as Error)?.message }, 'security event not recorded');
  });
}

/** The events of `jid`, newest first (at most `limit`). */
export async function securityEventsOf(deps: { store: Pick<Store, 'activity'> }, jid: string, limit = 100): Promise<RecordedEvent[]> {
  const entries = await deps.store.activity.list(jid, limit);
  return entries.map(fromEntry).filter((e): e is RecordedEvent => e !== null);
}

/** Whether `jid` gets notices: their own choice, else the server default. */
export async function wantsNotices(deps: { store: Pick<Store, 'activity'> }, jid: string): Promise<boolean> {
  const own = await deps.store.activity.noticePreference(jid);
  return own ?? activitySettings(deps.store).noticesByDefault;
}

export function setNoticePreference(deps: { store: Pick<Store, 'activity'> }, jid: string, on: boolean): Promise<void> {
  return deps.store.activity.setNoticePreference(jid, on);
}

/** The sign-in method an `amr` list (RFC 8176) stands for. */
export function signInFromAmr(amr: readonly string[]): Pick<Extract<SecurityEvent, { kind: 'web-sign-in' }>, 'method' | 'secondFactor'> {
  const second = amr.includes('otp') ? 'otp' : amr.includes('hwk') && amr.includes('pwd') ? 'passkey' : undefined;
  if (amr.includes('pwd')) return { method: 'password', ...(second ? { secondFactor: second } : {}) };
  if (amr.includes('hwk') || amr.includes('swk')) return { method: 'passkey' };
  if (amr.includes('fed') || amr.includes('upstream')) return { method: 'upstream' };
  return { method: 'password' };
}

// The address is part of it: a login from elsewhere (an attacker's, within the hour of the
// user's own) is recorded. An IPv6 address counts by its /64, which one host usually holds whole.
const coalesceKey = (e: Extract<SecurityEvent, { kind: 'xmpp-login' }>, address: string | undefined) =>
  [e.via, e.mechanism ?? '', e.client ?? '', e.software ?? '', e.device ?? '', coalescedAddress(address)].join('\u0000');

/** An IPv4 address as it is; an IPv6 one as its /64 prefix; anything else as it is. */
export function coalescedAddress(address: string | undefined): string {
  if (!address) return '';
  const a = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').replace(/%.*$/, '');
  if (!a.includes(':') || isIP(a) !== 6) return a;
  const [head = '', tail] = a.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

// This instance's memory of what it recorded lately, so a busy client's
// logins cost no round trip at all within the window; the store's own check
// covers the other instances.
const recent = new WeakMap<ActivityLog, Map<string, number>>();
const RECENT_MAX = 10_000;

function seenRecently(activity: ActivityLog, jid: string, key: string, windowSeconds: number): boolean {
  let m = recent.get(activity);
  if (!m) recent.set(activity, (m = new Map()));
  const now = Date.now();
  const k = `${jid}\u0000${key}`;
  const last = m.get(k);
  if (last !== undefined && now - last < windowSeconds * 1000) return true;
  if (m.size >= RECENT_MAX) m.delete(m.keys().next().value!);
  m.delete(k);
  m.set(k, now);
  return false;
}

/** The settings the config's `activity.*` and `notices.*` name. */
export function activityFromConfig(config: Pick<Config, 'activity' | 'notices'>): Omit<ActivitySettings, 'log'> {
  return {
    max: DEFAULT_ACTIVITY_SETTINGS.max,
    ttlSeconds: config.activity.ttl_days * 86400,
    xmppLoginWindowSeconds: config.activity.xmpp_login_window,
    noticesByDefault: config.notices.enabled,
  };
}

/** An accepted XMPP login, in one line at each door: coalesced, in the background. */
export function recordXmppLogin(
  deps: RecordDeps,
  jid: string,
  login: { via: 'password' | 'token' | 'app-password'; mechanism?: string; client?: string; userAgent?: { software?: string; device?: string }; address?: string },
): void {
  void recordSecurityEvent(
    deps,
    jid,
    { kind: 'xmpp-login', via: login.via, mechanism: login.mechanism, client: login.client, software: login.userAgent?.software, device: login.userAgent?.device },
    { address: login.address, userAgent: [login.userAgent?.software, login.userAgent?.device].filter(Boolean).join(' on ') || undefined },
  );
}
