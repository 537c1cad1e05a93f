// Grant management from a chat client: users list and revoke the applications
// they authorized; admins (config `admins`) do the same for any user.
import { normaliseJid } from '../../accounts/jid.js';
import { mayRevoke } from '../../oauth/xmpp-login/account-access.js';
import { clientAccessOf, type ClientAccess, type LiveSessions } from '../../oauth/clients/client-access.js';
import type { CoreDeps } from '../../oauth/context.js';
import { grantsOf, revokeGrantOf, type GrantSummary } from '../../oauth/grants/grant-management.js';
import { buildForm, single, type Field } from '../data-forms.js';
import type { AdhocCommand, Requester, Step } from './framework.js';

const FORM_TYPE: Field = { var: 'FORM_TYPE', type: 'hidden', values: ['urn:xmpp-oauth:adhoc:0'] };

/** Keeps a reply well under XMPP servers' stanza size limits, however many grants a user collects. */
const MAX_ROWS = 100;

const when = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const COLUMNS: Field[] = [
  { var: 'application', type: 'text-single', label: 'Application' },
  { var: 'site', type: 'text-single', label: 'Web site' },
  { var: 'scopes', type: 'text-single', label: 'Access' },
  { var: 'granted', type: 'text-single', label: 'Authorized' },
  { var: 'used', type: 'text-single', label: 'Last used' },
  // What XEP-0494 shows too (issue 14).
  { var: 'software', type: 'text-single', label: 'Software' },
  { var: 'connected', type: 'text-single', label: 'Connected now' },
];

/** The account's clients, and which are connected (null: the XMPP server cannot tell now). */
async function listing(core: CoreDeps, live: LiveSessions | undefined, jid: string) {
  const [clients, sessions] = await Promise.all([clientAccessOf(core, jid), live?.(jid).catch(() => null) ?? null]);
  return { clients, connected: sessions ? new Set(sessions.map((s) => s.grantId)) : null };
}

const shown = (n: number) => (n > MAX_ROWS ? ` The ${MAX_ROWS} most recently used are shown; the account page lists all.` : '');

function table(title: string, { clients: all, connected }: Awaited<ReturnType<typeof listing>>): Step {
  if (all.length === 0) return { status: 'completed', note: { type: 'info', text: `${title}: none.` } };
  const clients = all.slice(0, MAX_ROWS);
  return {
    status: 'completed',
    note: { type: 'info', text: `${all.length} authorized application${all.length === 1 ? '' : 's'}.${shown(all.length)}` },
    form: buildForm({
      type: 'result',
      title,
      reported: COLUMNS,
      items: clients.map(({ grant: g, device, id }: ClientAccess) => ({
        application: g.clientName,
        site: g.clientHost ?? '',
        scopes: g.scope.join(' '),
        granted: when(g.createdAt),
        used: when(g.lastUsedAt),
        software: device ?? '',
        connected: connected === null ? 'unknown' : connected.has(id) ? 'yes' : 'no',
      })),
    }),
  };
}

const option = (g: GrantSummary) => ({
  label: `${g.clientName}${g.clientHost ? ` (${g.clientHost})` : ''}: ${g.scope.join(' ')}, last used ${when(g.lastUsedAt)}`,
  value: g.id,
});

const done = (revoked: GrantSummary[]): Step => ({
  status: 'completed',
  note: {
    type: 'info',
    text: `Revoked: ${revoked.map((g) => g.clientName).join(', ')}. Its tokens stop working now, XMPP logins included.`,
  },
});

const gone: Step = { status: 'completed', note: { type: 'error', text: 'That application is not (or no longer) authorized; nothing was revoked.' } };

export function grantCommands(core: CoreDeps, live?: LiveSessions): AdhocCommand[] {
  // Listing needs any session of the account; revoking, a normal one or
  // xmpp:account:write; admin commands, a normal session of an admin (issue 22 #2).
  const user = (who: Requester) => who.isLocalUser;
  const revoker = (who: Requester) => who.isLocalUser && mayRevoke(who.access);
  const admin = (who: Requester) => who.isAdmin && who.access === 'full';

  /** First step of the admin commands: whose grants? */
  const askJid = (title: string): Step => ({
    status: 'executing',
    form: buildForm({
      type: 'form',
      title,
      instructions: 'Whose authorized applications?',
      fields: [FORM_TYPE, { var: 'jid', type: 'jid-single', label: 'User (bare JID)', required: true }],
    }),
  });
  const badJid: Step = { status: 'completed', note: { type: 'error', text: 'That is not a bare JID (user@host).' } };

  /** Pick one (or several) of a user's grants to revoke; `jid` rides along hidden. */
  const pick = async (jid: string, multi: boolean, title: string): Promise<Step> => {
    const grants = await grantsOf(core, jid);
    if (grants.length === 0) return { status: 'completed', note: { type: 'info', text: `${jid} has no authorized application.` } };
    return {
      status: 'executing',
      note: grants.length > MAX_ROWS ? { type: 'info', text: shown(grants.length).trim() } : undefined,
      form: buildForm({
        type: 'form',
        title,
        instructions: 'Revoking stops the application at once: its tokens no longer work, XMPP logins included.',
        fields: [
          FORM_TYPE,
          { var: 'jid', type: 'hidden', values: [jid] },
          { var: 'grant', type: multi ? 'list-multi' : 'list-single', label: 'Application', required: true, options: grants.slice(0, MAX_ROWS).map(option) },
        ],
      }),
    };
  };

  const revokeAll = async (jid: string, ids: string[], by: string): Promise<Step> => {
    const revoked: GrantSummary[] = [];
    for (const id of [...new Set(ids)].slice(0, MAX_ROWS)) {
      const g = await revokeGrantOf(core, jid, id, by);
      if (g) revoked.push(g);
    }
    return revoked.length ? done(revoked) : gone;
  };

  return [
    {
      node: 'grants',
      name: 'My authorized applications',
      allowed: user,
      run: async (who) => table('Applications you authorized', await listing(core, live, who.jid)),
    },
    {
      node: 'revoke',
      name: 'Revoke an application',
      allowed: revoker,
      run: async (who, form) => {
        const id = single(form, 'grant');
        if (!id) return pick(who.jid, false, 'Revoke an application');
        return revokeAll(who.jid, [id], `xmpp:${who.jid}`);
      },
    },
    {
      node: 'admin-grants',
      name: "A user's authorized applications (admin)",
      allowed: admin,
      run: async (_who, form) => {
        const raw = single(form, 'jid');
        if (!raw) return askJid("A user's authorized applications");
        const jid = normaliseJid(raw);
        return jid ? table(`Applications ${jid} authorized`, await listing(core, live, jid)) : badJid;
      },
    },
    {
      node: 'admin-revoke',
      name: "Revoke a user's applications (admin)",
      allowed: admin,
      run: async (who, form) => {
        const raw = single(form, 'jid');
        if (!raw) return askJid("Revoke a user's applications");
        const jid = normaliseJid(raw);
        if (!jid) return badJid;
        const ids = (form?.get('grant') ?? []).filter(Boolean);
        if (ids.length === 0) return pick(jid, true, `Revoke applications of ${jid}`);
        return revokeAll(jid, ids, `admin xmpp:${who.jid}`);
      },
    },
  ];
}
