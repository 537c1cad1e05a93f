// An account's recent security events (issue 26 #5) and the queue of "new
// access" notices waiting for an instance with a live component link (#4).
// The store keeps plain records; what they mean is the core's business
// (src/oauth/account-life/security-events.ts).

/** One stored event. Nothing secret is ever in one: names, scopes, addresses, user agents. */
export interface ActivityEntry {
  kind: string;
  /** Unix ms. */
  at: number;
  address?: string;
  userAgent?: string;
  /** How: a sign-in method, a SASL mechanism, a factor kind. */
  method?: string;
  /** Which app or client: a client name, an app password's label, a chat client's software. */
  client?: string;
  scope?: string[];
  /** Anything else worth a word (a passkey's name, a device). */
  detail?: string;
  /** Who acted: the user, an admin, the XMPP server. */
  by?: string;
}

/** A notice waiting to be sent: taken by exactly one instance. */
export interface QueuedNotice {
  id: string;
  jid: string;
  entry: ActivityEntry;
}

export interface ActivityLimits {
  /** Entries kept per account (older ones drop off). */
  max: number;
  /** The whole log expires this long after its latest entry. */
  ttlSeconds: number;
}

export interface NoticeLimits {
  /**
   * Notices queued per account per `ttlSeconds`; more are dropped (the
   * activity log still has the events). One account's flood cannot push
   * other accounts' notices out of the shared queue.
   */
  perAccount: number;
  /** The whole queue's bound, a memory backstop only: per-account bounds keep it far below. */
  max: number;
  /** A queued notice expires this long after the latest one. */
  ttlSeconds: number;
}

export interface ActivityLog {
  /** Adds `entry` as the newest, keeps the newest `max`, renews the TTL: one round trip. */
  append(jid: string, entry: ActivityEntry, limits: ActivityLimits): Promise<void>;
  /**
   * As append, unless an entry with the same `key` was appended within
   * `windowSeconds` (on any instance): then nothing is written and the
   * answer is false. One round trip.
   */
  appendCoalesced(jid: string, entry: ActivityEntry, limits: ActivityLimits, coalesce: { key: string; windowSeconds: number }): Promise<boolean>;
  /** Newest first, at most `limit`. */
  list(jid: string, limit: number): Promise<ActivityEntry[]>;
  /** Drops the log and the notice preference (the account was removed). */
  forget(jid: string): Promise<void>;

  /** The user's own choice about notices; null: the server default. */
  noticePreference(jid: string): Promise<boolean | null>;
  setNoticePreference(jid: string, on: boolean | null): Promise<void>;

  /** Queues a notice for whichever instance sends it, unless its account is over its bound; false when dropped. */
  queueNotice(notice: QueuedNotice, limits: NoticeLimits): Promise<boolean>;
  /** Takes up to `max` queued notices, oldest first; each notice is taken once, by one caller. */
  takeNotices(max: number): Promise<QueuedNotice[]>;
  /** Puts notices back at the front (the link dropped before they went out). */
  returnNotices(notices: QueuedNotice[]): Promise<void>;
  /** Hears of notices queued by this process (other instances' are found by polling). Returns an unsubscribe function. */
  onNoticeQueued(listener: () => void): () => void;
}
