/**
 * A minimal cookie-keeping HTTP user agent that reads our own HTML forms, for
 * driving the login and consent pages without a real browser.
 */
export class FormBrowser {
  private readonly cookies = new Map<string, string>();

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  get(url: string): Promise<Response> {
    return this.request(url);
  }

  post(url: string, fields: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** Submits the page's POST form with its hidden fields plus `fields`. */
  async submit(base: string, html: string, fields: Record<string, string>): Promise<Response> {
    const form = parseForm(html);
    return this.post(new URL(form.action, base).toString(), { ...form.hidden, ...fields });
  }

  dropCookie(name: string): void {
    this.cookies.delete(name);
  }

  /** Takes over another browser's cookies, as a thief of its cookie jar would. */
  copyCookiesFrom(other: FormBrowser): void {
    for (const [k, v] of other.cookies) this.cookies.set(k, v);
  }
}

/** The page's CSRF token (every form carries the same one); fails the test when there is none. */
export function csrfOf(html: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('no CSRF token on the page');
  return token;
}

export function parseForm(html: string): { action: string; hidden: Record<string, string> } {
  const action = /<form[^>]*method="post"[^>]*action="([^"]*)"/i.exec(html)?.[1];
  if (!action) throw new Error(`no POST form in page:\n${html.slice(0, 2000)}`);
  const hidden: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) hidden[m[1]!] = decode(m[2]!);
  return { action: decode(action), hidden };
}

function decode(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
