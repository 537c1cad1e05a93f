import { Router } from 'express';
import { eventTime, describeEvent } from '../../oauth/account-life/security-event-text.js';
import { securityEventsOf, setNoticePreference, wantsNotices, activitySettings } from '../../oauth/account-life/security-events.js';
import type { CoreDeps } from '../../oauth/context.js';
import { formBody } from '../oauth-http.js';
import type { Pages } from '../pages.js';
import { noStore } from '../security-headers.js';
import type { Sessions } from '../session.js';
import type { Views } from '../views.js';

/** Where the notices form may send the browser back to. */
const RETURNS = new Set(['/account', '/account/activity']);

/**
 * /account/activity: the account's last security events, newest first, with
 * when, from which address and which browser or chat client (issue 26 #5);
 * and the user's choice about notices over XMPP (#4).
 */
export function activityRoutes({ core, sessions, pages, views }: { core: CoreDeps; sessions: Sessions; pages: Pages; views: Views }): Router {
  const router = Router();

  router.get('/account/activity', noStore, async (req, res) => {
    const session = await sessions.current(req);
    if (!session) return pages.login(req, res, { action: '/account/login', interaction: '', clientName: '', intro: 'account.login_intro' });
    const [events, noticesOn] = await Promise.all([securityEventsOf(core, session.jid, 100), wantsNotices(core, session.jid)]);
    const notice = typeof req.query.notice === 'string' && /^activity\.notice\.\w+$/.test(req.query.notice) ? req.query.notice : undefined;
    res.type('html').send(
      views.render('activity', {
        title: 'activity.title',
        jid: session.jid,
        csrf: sessions.csrfToken(req, res),
        days: Math.round(activitySettings(core.store).ttlSeconds / 86400),
        noticesOn,
        notice,
        events: events.map((e) => ({
          kind: e.kind,
          text: describeEvent(e),
          time: eventTime(e.at),
          iso: new Date(e.at).toISOString(),
          address: e.address,
          userAgent: e.userAgent,
        })),
      }),
    );
  });

  router.post('/account/notices', noStore, formBody, async (req, res) => {
    if (!pages.csrfOk(req, res)) return;
    const session = await sessions.current(req);
    if (!session) return res.redirect(303, '/account');
    const { notices, return: back } = req.body as Record<string, unknown>;
    if (notices !== 'on' && notices !== 'off') {
      core.log.info({ jid: session.jid }, 'notice preference refused: notices must be on or off');
      return pages.error(res, 400, 'invalid_request', 'activity.notices.bad');
    }
    await setNoticePreference(core, session.jid, notices === 'on');
    core.log.info({ jid: session.jid, notices }, 'notice preference set');
    const to = typeof back === 'string' && RETURNS.has(back) ? back : '/account/activity';
    res.redirect(303, `${to}?notice=${to === '/account' ? 'account' : 'activity'}.notice.notices_${notices}`);
  });

  return router;
}
