// "Recent activity" from a chat client (issue 26 #5): the account's last 10
// security events, as on /account/activity.
import type { CoreDeps } from '../../oauth/context.js';
import { describeEvent, eventTime } from '../../oauth/account-life/security-event-text.js';
import { securityEventsOf } from '../../oauth/account-life/security-events.js';
import { buildForm, type Field } from '../data-forms.js';
import type { AdhocCommand, Requester } from './framework.js';

export const ACTIVITY_ROWS = 10;

const COLUMNS: Field[] = [
  { var: 'when', type: 'text-single', label: 'When' },
  { var: 'what', type: 'text-single', label: 'What' },
  { var: 'agent', type: 'text-single', label: 'Browser or app' },
  { var: 'address', type: 'text-single', label: 'Address' },
];

export function activityCommands(core: CoreDeps): AdhocCommand[] {
  return [
    {
      node: 'activity',
      name: 'Recent activity',
      // A normal session of the account. Restricted (xmpp:account:*) sessions get
      // only `grants` and `revoke`, as our Prosody module's allow-list says too.
      allowed: (who: Requester) => who.isLocalUser && who.access === 'full',
      run: async (who) => {
        const events = await securityEventsOf(core, who.jid, ACTIVITY_ROWS);
        if (events.length === 0) return { status: 'completed', note: { type: 'info', text: 'Recent activity: nothing recorded yet.' } };
        return {
          status: 'completed',
          note: { type: 'info', text: `The ${events.length} latest security events of ${who.jid}, newest first. All of them: ${core.config.issuer}/account/activity` },
          form: buildForm({
            type: 'result',
            title: 'Recent activity',
            reported: COLUMNS,
            items: events.map((e) => ({ when: eventTime(e.at), what: describeEvent(e), agent: e.userAgent ?? '', address: e.address ?? '' })),
          }),
        };
      },
    },
  ];
}
