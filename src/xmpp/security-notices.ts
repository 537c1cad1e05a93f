// "New access" notices over XMPP (issue 26 #4, docs/activity-and-notices.md).
//
// The core queues a notice where the event happens, on whichever instance
// that is (src/oauth/account-life/security-events.ts). Here, an instance whose
// component link is up takes notices off the shared queue and sends each as a
// chat message from the component's JID. Taking is atomic in the store, so
// among several instances (ejabberd balances several links of one component;
// Prosody takes one, the others stand by) each notice is sent once. Queued
// by this process: sent at once; by another: found by the next poll.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { CoreDeps } from '../oauth/context.js';
import { noticeBody } from '../oauth/account-life/security-event-text.js';
import { fromEntry, wantsNotices } from '../oauth/account-life/security-events.js';
import type { QueuedNotice } from '../store/activity/types.js';
import type { ComponentLink } from './link.js';
import { xml, type Element } from './xml.js';

/** XEP-0359 unique and stable stanza ids. */
export const NS_SID = 'urn:xmpp:sid:0';
/** XEP-0334: keep it in the archive and offline storage, though it is from a component. */
const NS_HINTS = 'urn:xmpp:hints';

const BATCH = 20;
/** How often an instance with a live link looks for notices other instances queued. */
export const NOTICE_POLL_MS = 1_000;

export interface SecurityNotices {
  /** Sends what is queued now (when the link is up). Resolves with the number sent. */
  drain(): Promise<number>;
  stop(): void;
}

type Link = Pick<ComponentLink, 'online' | 'domain' | 'send' | 'onStatus'>;

export function noticeStanza(component: string, to: string, body: string, id: string = randomUUID()): Element {
  return xml(
    'message',
    { type: 'chat', from: component, to, id },
    xml('body', {}, body),
    xml('origin-id', { xmlns: NS_SID, id }),
    xml('store', { xmlns: NS_HINTS }),
  );
}

export function startSecurityNotices(link: Link, deps: { core: CoreDeps; log: Logger }, opts: { pollMs?: number } = {}): SecurityNotices {
  const { core } = deps;
  const log = deps.log.child({ part: 'security-notices' });
  const hosts = new Set(core.config.xmpp.hosts.map((h) => h.toLowerCase()));
  const accountUrl = `${core.config.issuer}/account`;
  let running: Promise<number> | undefined;
  let again = false;

  async function send(notice: QueuedNotice): Promise<'sent' | 'skipped' | 'offline'> {
    const event = fromEntry(notice.entry);
    const domain = notice.jid.slice(notice.jid.lastIndexOf('@') + 1).toLowerCase();
    if (!event || !notice.jid.includes('@') || !hosts.has(domain)) return 'skipped';
    if (!(await wantsNotices(core, notice.jid))) return 'skipped';
    const body = noticeBody(event, { siteName: core.config.site_name, accountUrl, component: link.domain });
    // The notice's own id doubles as the stanza's: a retry after a lost send is recognisably the same message.
    if (!link.send(noticeStanza(link.domain, notice.jid, body, notice.id))) return 'offline';
    log.info({ jid: notice.jid, kind: event.kind }, 'security notice sent');
    return 'sent';
  }

  async function drainOnce(): Promise<number> {
    let sent = 0;
    while (link.online) {
      const batch = await core.store.activity.takeNotices(BATCH);
      for (let i = 0; i < batch.length; i++) {
        const outcome = await send(batch[i]!).catch((err: unknown) => {
          log.info({ jid: batch[i]!.jid, error: (err as Error).message }, 'security notice not sent');
          return 'skipped' as const;
        });
        if (outcome === 'sent') sent++;
        if (outcome === 'offline') {
          // The link went down mid-batch: the rest waits for the next instance or link-up.
          await core.store.activity.returnNotices(batch.slice(i));
          return sent;
        }
      }
      if (batch.length < BATCH) break;
    }
    return sent;
  }

  // One drain at a time; a trigger during one queues exactly one more.
  function drain(): Promise<number> {
    if (running) {
      again = true;
      return running;
    }
    running = drainOnce()
      .catch((err: unknown) => {
        log.info({ error: (err as Error).message }, 'security notices: queue not read; the next poll retries');
        return 0;
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          void drain();
        }
      });
    return running;
  }

  const offQueued = core.store.activity.onNoticeQueued(() => void drain());
  const offStatus = link.onStatus(({ state }) => {
    if (state === 'online') void drain();
  });
  // The memory store has no other instances: what this process queues, it hears.
  const pollMs = opts.pollMs ?? NOTICE_POLL_MS;
  const timer = core.store.kind === 'redis' && pollMs > 0 ? setInterval(() => link.online && void drain(), pollMs) : undefined;
  timer?.unref();

  return {
    drain,
    stop() {
      offQueued();
      offStatus();
      clearInterval(timer);
    },
  };
}
