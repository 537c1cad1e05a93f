// Driving the account page's "App passwords" section with the form browser.
import assert from 'node:assert/strict';
import { csrfOf, type FormBrowser } from './browser.js';


/** Creates an app password on /account (the browser must be signed in); returns it as shown, and the page. */
export async function createAppPassword(browser: FormBrowser, base: string, label: string, scope?: string): Promise<{ password: string; html: string }> {
  const page = await (await browser.get(`${base}/account`)).text();
  const res = await browser.post(`${base}/account/app-passwords`, { csrf: csrfOf(page), label, ...(scope ? { scope } : {}) });
  const html = await res.text();
  assert.equal(res.status, 200, html.slice(0, 500));
  const password = /<p class="code-box app-password">([^<]+)<\/p>/.exec(html)?.[1];
  assert.ok(password, 'the new app password is shown');
  return { password, html };
}

/** The grant id of the app password named `label` on the account page. */
export async function appPasswordId(browser: FormBrowser, base: string, label: string): Promise<string | undefined> {
  const html = await (await browser.get(`${base}/account`)).text();
  const section = html.slice(html.indexOf('class="grants app-passwords"'));
  for (const m of section.matchAll(/<h3>([^<]*)<\/h3>[\s\S]*?name="grant" value="([^"]+)"/g)) if (m[1] === label) return m[2];
  return undefined;
}

/** Revokes the app password named `label` with the page's own revoke button. */
export async function revokeAppPassword(browser: FormBrowser, base: string, label: string): Promise<void> {
  const id = await appPasswordId(browser, base, label);
  assert.ok(id, `app password ${label} is listed`);
  const page = await (await browser.get(`${base}/account`)).text();
  const res = await browser.post(`${base}/account/revoke`, { csrf: csrfOf(page), grant: id });
  assert.equal(res.headers.get('location'), '/account?notice=account.notice.revoked');
}
