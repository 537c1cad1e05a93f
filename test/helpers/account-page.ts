// Driving the account page as its owner does, with the form browser.
import assert from 'node:assert/strict';
import { csrfOf, type FormBrowser } from './browser.js';


/** Signs `browser` in on /account with the account's password. */
export async function signInToAccount(browser: FormBrowser, base: string, username: string, password: string): Promise<void> {
  const page = await (await browser.get(`${base}/account`)).text();
  const res = await browser.submit(base, page, { username, password });
  assert.equal(res.status, 303, 'signed in on /account');
}

/** Revokes the grant listed under the heading `name` (an app's name) with the page's own revoke button. */
export async function revokeGrantOnAccount(browser: FormBrowser, base: string, name: string): Promise<void> {
  const html = await (await browser.get(`${base}/account`)).text();
  const id = [...html.matchAll(/<h3>([^<]*)<\/h3>[\s\S]*?name="grant" value="([^"]+)"/g)].find((m) => m[1] === name)?.[2];
  assert.ok(id, `${name} is listed on /account`);
  const res = await browser.post(`${base}/account/revoke`, { csrf: csrfOf(html), grant: id });
  assert.equal(res.headers.get('location'), '/account?notice=account.notice.revoked');
}

/** Changes the password with the page's own form, its "end chat sessions" box ticked as the page ticks it. */
export async function changePasswordOnAccount(browser: FormBrowser, base: string, current: string, password: string): Promise<void> {
  const html = await (await browser.get(`${base}/account`)).text();
  const form = html.slice(html.indexOf('<form method="post" action="/account/password"'));
  assert.match(form, /name="end_sessions" checked/);
  const res = await browser.submit(base, form, { current, password, confirm: password, end_sessions: 'on' });
  assert.equal(res.headers.get('location'), '/account?notice=account.notice.password_changed');
}
