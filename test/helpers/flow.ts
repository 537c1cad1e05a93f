import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { FormBrowser } from './browser.js';
import { CLIENT_SECRET } from './server.js';

export const PASSWORD = 'correct horse battery staple';

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * Follows an authorization URL through our login and consent pages like a
 * user would, and returns where the server finally sends the browser.
 */
export async function authorizeInBrowser(
  browser: FormBrowser,
  authUrl: string,
  opts: { username?: string; password?: string; decision?: 'approve' | 'deny' } = {},
): Promise<URL> {
  let res = await browser.get(authUrl);
  for (let step = 0; step < 4; step++) {
    if (res.status === 303 || res.status === 302) {
      const location = res.headers.get('location')!;
      if (!location.startsWith(new URL(authUrl).origin)) return new URL(location);
      res = await browser.get(new URL(location, authUrl).toString());
      continue;
    }
    const html = await res.text();
    assert.equal(res.status, 200, `unexpected page (${res.status}): ${html.slice(0, 500)}`);
    if (html.includes('name="password"')) {
      res = await browser.submit(authUrl, html, { username: opts.username ?? 'alice@localhost', password: opts.password ?? PASSWORD });
    } else if (html.includes('name="decision"')) {
      res = await browser.submit(authUrl, html, { decision: opts.decision ?? 'approve' });
    } else {
      assert.fail(`unexpected page: ${html.slice(0, 500)}`);
    }
  }
  assert.fail('too many steps');
}

export function authUrl(base: string, params: Record<string, string>): string {
  const u = new URL('/oauth2/authorize', base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** POST to the token endpoint as the confidential test client. */
export async function tokenCall(base: string, params: Record<string, string>, auth: 'basic' | 'post' | 'none' = 'basic', clientId = 'webapp') {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(params);
  if (auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString('base64')}`;
  if (auth === 'post') {
    body.set('client_id', clientId);
    body.set('client_secret', CLIENT_SECRET);
  }
  if (auth === 'none') body.set('client_id', clientId);
  const res = await fetch(new URL('/oauth2/token', base), { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}
