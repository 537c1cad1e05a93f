// The activity log in process (memory store): same contract as the Redis one.
import type { ActivityEntry, ActivityLimits, ActivityLog, NoticeLimits, QueuedNotice } from './types.js';

interface Log {
  entries: ActivityEntry[];
  expiresAt: number;
}

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryActivityLog implements ActivityLog {
  private readonly logs = new Map<string, Log>();
  private readonly seen = new Map<string, number>();
  private readonly preferences = new Map<string, boolean>();
  private queue: { notice: QueuedNotice; expiresAt: number }[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly noticeCounts = new Map<string, { n: number; expiresAt: number }>();

  private live(jid: string, now = Date.now()): Log | undefined {
    const log = this.logs.get(jid);
    if (log && log.expiresAt <= now) {
      this.logs.delete(jid);
      return undefined;
    }
    return log;
  }

  async append(jid: string, entry: ActivityEntry, limits: ActivityLimits): Promise<void> {
    const now = Date.now();
    const log = this.live(jid, now) ?? { entries: [], expiresAt: 0 };
    log.entries.unshift(clone(entry));
    log.entries.length = Math.min(log.entries.length, limits.max);
    log.expiresAt = now + limits.ttlSeconds * 1000;
    this.logs.set(jid, log);
  }

  async appendCoalesced(jid: string, entry: ActivityEntry, limits: ActivityLimits, coalesce: { key: string; windowSeconds: number }): Promise<boolean> {
    const now = Date.now();
    const k = `${jid}\u0000${coalesce.key}`;
    const until = this.seen.get(k);
    if (until !== undefined && until > now) return false;
    if (this.seen.size > 50_000) for (const [key, t] of this.seen) if (t <= now) this.seen.delete(key);
    this.seen.set(k, now + coalesce.windowSeconds * 1000);
    await this.append(jid, entry, limits);
    return true;
  }

  async list(jid: string, limit: number): Promise<ActivityEntry[]> {
    return clone(this.live(jid)?.entries.slice(0, limit) ?? []);
  }

  async forget(jid: string): Promise<void> {
    this.logs.delete(jid);
    this.preferences.delete(jid);
  }

  async noticePreference(jid: string): Promise<boolean | null> {
    return this.preferences.get(jid) ?? null;
  }

  async setNoticePreference(jid: string, on: boolean | null): Promise<void> {
    if (on === null) this.preferences.delete(jid);
    else this.preferences.set(jid, on);
  }

  async queueNotice(notice: QueuedNotice, limits: NoticeLimits): Promise<boolean> {
    const now = Date.now();
    const count = this.noticeCounts.get(notice.jid);
    const current = count && count.expiresAt > now ? count : { n: 0, expiresAt: now + limits.ttlSeconds * 1000 };
    if (current.n >= limits.perAccount) return false;
    current.n++;
    this.noticeCounts.set(notice.jid, current);
    this.queue = this.queue.filter((q) => q.expiresAt > now);
    this.queue.push({ notice: clone(notice), expiresAt: now + limits.ttlSeconds * 1000 });
    if (this.queue.length > limits.max) this.queue.splice(0, this.queue.length - limits.max);
    for (const l of this.listeners) l();
    return true;
  }

  async takeNotices(max: number): Promise<QueuedNotice[]> {
    const now = Date.now();
    this.queue = this.queue.filter((q) => q.expiresAt > now);
    return this.queue.splice(0, max).map((q) => q.notice);
  }

  async returnNotices(notices: QueuedNotice[]): Promise<void> {
    const expiresAt = Date.now() + 3600_000;
    this.queue.unshift(...notices.map((notice) => ({ notice, expiresAt })));
  }

  onNoticeQueued(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
