import { CONNECTIONS, FORM, PASSWORD, http, type Row, type Target } from '../lib.js';

/** The password login path over HTTP: the password grant, i.e. one argon2id verification per request. */
export async function passwordScenario(target: Target): Promise<Row> {
  const row = await http(target, 'password login (password grant, argon2id)', {
    connections: Math.min(CONNECTIONS, 8),
    method: 'POST',
    path: '/oauth2/token',
    headers: FORM,
    body: new URLSearchParams({ grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid xmpp' }).toString(),
  });
  row.note = 'event-loop target: p99 < 20 ms';
  return row;
}

// ---------------------------------------------------------------------------
// oidc-provider, the comparison (bench/oidc-provider-server.ts)
