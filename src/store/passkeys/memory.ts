// Passkeys in process (the memory store's part). Every method is synchronous
// inside, so each is atomic as the Redis scripts are.
import type { AddPasskeyResult, PasskeyChallenge, PasskeyRecord, PasskeyStore } from './types.js';

/** Bound on waiting challenges, so a flood of ceremony starts cannot grow memory without end. */
const MAX_CHALLENGES = 10_000;

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryPasskeyStore implements PasskeyStore {
  /** jid → credential id → record */
  private readonly byAccount = new Map<string, Map<string, PasskeyRecord>>();
  /** credential id → jid */
  private readonly owners = new Map<string, string>();
  private readonly handles = new Map<string, string>();
  private readonly challenges = new Map<string, { c: PasskeyChallenge; exp: number }>();

  async userHandle(jid: string, fresh: string): Promise<string> {
    const known = this.handles.get(jid);
    if (known) return known;
    this.handles.set(jid, fresh);
    return fresh;
  }

  async add(record: PasskeyRecord, max: number): Promise<AddPasskeyResult> {
    if (this.owners.has(record.id)) return 'exists';
    const mine = this.byAccount.get(record.jid) ?? new Map<string, PasskeyRecord>();
    if (mine.size >= max) return 'limit';
    mine.set(record.id, clone(record));
    this.byAccount.set(record.jid, mine);
    this.owners.set(record.id, record.jid);
    return 'added';
  }

  async list(jid: string): Promise<PasskeyRecord[]> {
    return [...(this.byAccount.get(jid)?.values() ?? [])].map(clone).sort((a, b) => a.createdAt - b.createdAt);
  }

  async find(id: string): Promise<PasskeyRecord | null> {
    const jid = this.owners.get(id);
    const record = jid ? this.byAccount.get(jid)?.get(id) : undefined;
    return record ? clone(record) : null;
  }

  async rename(jid: string, id: string, name: string): Promise<boolean> {
    const record = this.byAccount.get(jid)?.get(id);
    if (!record) return false;
    record.name = name;
    return true;
  }

  async remove(jid: string, id: string): Promise<boolean> {
    const removed = this.byAccount.get(jid)?.delete(id) ?? false;
    if (removed) this.owners.delete(id);
    return removed;
  }

  async removeAll(jid: string): Promise<void> {
    for (const id of this.byAccount.get(jid)?.keys() ?? []) this.owners.delete(id);
    this.byAccount.delete(jid);
    this.handles.delete(jid);
  }

  async recordUse(jid: string, id: string, expected: number, next: number, at: number, backedUp?: boolean): Promise<boolean> {
    const record = this.byAccount.get(jid)?.get(id);
    if (!record || record.counter !== expected) return false;
    record.counter = next;
    record.lastUsedAt = at;
    if (backedUp !== undefined) record.backedUp = backedUp;
    return true;
  }

  async saveChallenge(id: string, challenge: PasskeyChallenge, ttlMs: number): Promise<void> {
    const now = Date.now();
    if (this.challenges.size >= MAX_CHALLENGES) {
      for (const [k, e] of this.challenges) if (e.exp <= now) this.challenges.delete(k);
      // Still full: the oldest goes (Map keeps insertion order).
      if (this.challenges.size >= MAX_CHALLENGES) this.challenges.delete(this.challenges.keys().next().value!);
    }
    this.challenges.set(id, { c: clone(challenge), exp: now + ttlMs });
  }

  async takeChallenge(id: string): Promise<PasskeyChallenge | null> {
    const entry = this.challenges.get(id);
    this.challenges.delete(id);
    return entry && entry.exp > Date.now() ? entry.c : null;
  }
}
