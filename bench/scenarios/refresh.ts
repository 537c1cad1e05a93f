import { FORM, http, type Row, type Target } from '../lib.js';

/**
 * refresh_token grant. Refresh tokens rotate and a reused one revokes the
 * grant, so every request takes a live token from a queue and every answer
 * puts the new one back: each token is sent exactly once. (autocannon's
 * per-connection context is reset after every request, so it cannot hold them.)
 * The queue starts with CHAINS (4 x connections) tokens, all on one grant
 * (ours: password grants of one user to one client; oidc-provider: minted
 * through its models on one Grant). When autocannon stops it drops the answers
 * still in flight, so each stop (end of warm-up, end of scenario) loses up to
 * one chain per connection; 4 x leaves at least 2 x connections for the
 * measured part and some for what follows.
 */
export async function refreshScenario(target: Target, live: string[], scenario = 'token: refresh_token grant (rotating)'): Promise<Row> {
  return http(target, scenario, {
    requests: [
      {
        method: 'POST',
        path: target.tokenPath,
        headers: FORM,
        setupRequest: (req) => ({ ...req, body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(live.shift() ?? 'queue-empty')}` }),
        onResponse: (status, body) => {
          // A failed refresh loses its chain (autocannon counts the non-2xx).
          if (status === 200) live.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
        },
      },
    ],
  });
}
