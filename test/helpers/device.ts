import assert from 'node:assert/strict';
import type { FormBrowser } from './browser.js';
import { PASSWORD } from './flow.js';

/** A person at the verification page: types the code, signs in, decides. Returns the final page. */
export async function approveDevice(
  browser: FormBrowser,
  verificationUri: string,
  typedCode: string,
  opts: { decision?: 'approve' | 'deny'; username?: string; password?: string } = {},
): Promise<{ status: number; html: string }> {
  const entry = await browser.get(verificationUri);
  assert.equal(entry.status, 200);
  let res = await browser.submit(verificationUri, await entry.text(), { user_code: typedCode });
  let html = await res.text();
  if (html.includes('name="password"')) {
    res = await browser.submit(verificationUri, html, { username: opts.username ?? 'alice@localhost', password: opts.password ?? PASSWORD });
    html = await res.text();
  }
  if (!html.includes('name="decision"')) return { status: res.status, html };
  res = await browser.submit(verificationUri, html, { decision: opts.decision ?? 'approve' });
  return { status: res.status, html: await res.text() };
}
