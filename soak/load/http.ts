// HTTP as the soak's clients send it: every response (or network error) goes
// into the ledger with its kind, instance and time span.
import { FormBrowser } from '../../test/helpers/browser.js';
import { CLIENT_SECRET } from '../../test/helpers/server.js';
import type { Ledger, Outcome } from '../ledger.js';

export const outcomeOf = (status: number): Outcome =>
  status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

const BASIC = `Basic ${Buffer.from(`webapp:${CLIENT_SECRET}`).toString('base64')}`;
/** The resource server the soak introspects as (RFC 7662: it may introspect any client's tokens). */
export const RESOURCE_SERVER = { id: 'soak-rs', secret: 'soak-resource-server-secret-0123456789abcdef' };
export const RS_BASIC = `Basic ${Buffer.from(`${RESOURCE_SERVER.id}:${RESOURCE_SERVER.secret}`).toString('base64')}`;

/** A form POST (client Basic auth unless `auth` is false); resolves with status 0 on a network error. */
export async function post(
  ledger: Ledger,
  kind: string,
  instance: { name: string; url: string },
  path: string,
  form: Record<string, string>,
  /** auth: true (default) the webapp client's Basic, false none, a string: that Authorization header. */
  opts: { auth?: boolean | string; expected?: (a: Answer) => boolean } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (typeof opts.auth === 'string') headers.authorization = opts.auth;
  else if (opts.auth !== false) headers.authorization = BASIC;
  const start = Date.now();
  try {
    const res = await fetch(instance.url + path, { method: 'POST', headers, body: new URLSearchParams(form), signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text.slice(0, 200) };
    }
    const answer = { status: res.status, body };
    ledger.record({ kind, instance: instance.name, start, end: Date.now(), outcome: outcomeOf(res.status), status: res.status, expected: opts.expected?.(answer), detail: res.status >= 400 ? `${path} ${String(body.error ?? body.raw ?? '')}` : path });
    return answer;
  } catch (err) {
    ledger.record({ kind, instance: instance.name, start, end: Date.now(), outcome: 'net-error', detail: (err as Error).message });
    return { status: 0, body: {} };
  }
}

/** FormBrowser whose every page load is recorded, for the flows through our pages. */
export class RecordingBrowser extends FormBrowser {
  constructor(private readonly ledger: Ledger, private readonly kind: string, private readonly instances: Array<{ name: string; url: string }>) {
    super();
  }

  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const instance = this.instances.find((i) => url.startsWith(i.url))?.name;
    const start = Date.now();
    try {
      const res = await super.request(url, { ...init, signal: AbortSignal.timeout(20_000) });
      this.ledger.record({ kind: this.kind, instance, start, end: Date.now(), outcome: outcomeOf(res.status), status: res.status });
      return res;
    } catch (err) {
      this.ledger.record({ kind: this.kind, instance, start, end: Date.now(), outcome: 'net-error', detail: (err as Error).message });
      throw err;
    }
  }
}
