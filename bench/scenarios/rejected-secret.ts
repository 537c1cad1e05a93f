// The 401 path: a client presenting a wrong secret (what a secret-guessing
// caller costs). Ours consults and counts the failed-auth budget in process
// (flushed to Redis every 100 ms, blocks announced to every instance:
// docs/operations.md); the bench config lifts its limit.
import { CLIENT_ID, http, type Row, type Target } from '../lib.js';

const WRONG = `Basic ${Buffer.from(`${CLIENT_ID}:not-the-client-secret`).toString('base64')}`;

export async function rejectedSecretScenario(target: Target): Promise<Row> {
  return http(target, 'rejected client secret (401 path)', {
    method: 'POST',
    path: target.tokenPath,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: WRONG },
    body: 'grant_type=refresh_token&refresh_token=x',
    expectStatus: 401,
  });
}
