// Shared pieces of the scale-out tests (not a test file itself): server
// processes started as an operator would (`xmpp-oauth serve --config FILE`),
// one shared config, and the OAuth steps split across instances.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FormBrowser } from '../helpers/browser.js';
import { BIN, runCli } from '../helpers/cli.js';
import { PASSWORD, authUrl, pkcePair, tokenCall } from '../helpers/flow.js';
import { freePort } from '../helpers/ports.js';
import { CLIENT_SECRET, secretHash } from '../helpers/server.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** The public address every instance shares (the load balancer's), so tokens verify everywhere. */
export const ISSUER = 'http://auth.scale.test';
export const USER = 'alice@localhost';
const REDIRECT = 'https://app.example/cb';

const DIST_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** The `redis` section: exactly what an operator writes. */
export type RedisSection =
  | { url: string }
  | { sentinels: string[]; name: string; password?: string; sentinel_password?: string }
  | { cluster: string[] };

/** One config shared by every instance; only the listen port differs. */
export function sharedConfig(redis: RedisSection, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuer: ISSUER,
    http: { host: '127.0.0.1', port },
    redis,
    cookie_secrets: ['scale-test-cookie-secret-0123456789abcdef'],
    device_poll_interval: 1,
    xmpp: { enabled: false, hosts: ['localhost'] },
    log: { level: 'info' },
    clients: [
      { id: 'webapp', name: 'Test Web App', secret_hash: secretHash(CLIENT_SECRET), redirect_uris: [REDIRECT] },
      { id: 'tv', name: 'Test TV App', public: true, grant_types: ['device_code', 'refresh_token'] },
    ],
    ...extra,
  };
}

export interface Instance {
  url: string;
  configFile: string;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

function cleanEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XMPP_OAUTH_'))) as Record<string, string>;
}

/** Writes the config to a temp file: JSON is YAML. */
export function writeConfig(config: Record<string, unknown>): { file: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'xo-scale-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `xmpp-oauth serve --config FILE` as a child process; resolves when /readyz says 200. */
export async function startInstance(redis: RedisSection, extra: Record<string, unknown> = {}, args: string[] = []): Promise<Instance & { child: ChildProcess }> {
  assert.ok(existsSync(DIST_MAIN), 'dist/ is missing: run `npm run build` first (npm test does)');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { file, cleanup } = writeConfig(sharedConfig(redis, port, extra));
  const child = spawn(process.execPath, [BIN, 'serve', '--config', file, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const logs: Record<string, unknown>[] = [];
  let buffer = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once('exit', () => {
    exited = true;
    live.delete(child);
  });
  const stop = async () => {
    if (!exited) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    cleanup();
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited) break;
    const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return { url, configFile: file, logs, stop, child };
    await sleep(100);
  }
  await stop();
  throw new Error(`instance did not become ready:\n${stderr}\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
}

/** `xmpp-oauth user add` against the shared store, as an operator does once for all instances. */
export async function addUser(configFile: string, jid = USER): Promise<void> {
  const res = await runCli(['user', 'add', jid, '--password-stdin'], { input: PASSWORD, env: { XMPP_OAUTH_CONFIG: configFile } });
  assert.equal(res.code, 0, `user add failed: ${res.stderr}`);
}

export type Tokens = { access_token: string; refresh_token: string; id_token?: string };

function basic(): string {
  return `Basic ${Buffer.from(`webapp:${CLIENT_SECRET}`).toString('base64')}`;
}

export async function post(url: string, body: Record<string, string>, auth = false) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (auth) headers.authorization = basic();
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(body) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, body: json };
}

export async function introspect(base: string, token: string): Promise<boolean> {
  const r = await post(`${base}/oauth2/introspect`, { token }, true);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.active === true;
}

export async function revoke(base: string, token: string, hint?: string): Promise<void> {
  const r = await post(`${base}/oauth2/revoke`, hint ? { token, token_type_hint: hint } : { token }, true);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

export const refresh = (base: string, refreshToken: string) => tokenCall(base, { grant_type: 'refresh_token', refresh_token: refreshToken });

const html = async (res: Response) => ({ status: res.status, text: await res.text() });

/**
 * The authorization code flow, each step on the instance named for it:
 * `start` serves GET /authorize and the login POST, `finish` the consent POST.
 * Returns the code and its verifier. With a browser already signed in the
 * login step is skipped (the consent page comes straight from `start`).
 */
export async function authorizeAcross(
  browser: FormBrowser,
  start: string,
  finish: string,
  user = USER,
): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkcePair();
  const url = authUrl(start, {
    response_type: 'code', client_id: 'webapp', redirect_uri: REDIRECT, scope: 'openid offline_access xmpp',
    code_challenge: challenge, code_challenge_method: 'S256', state: 's',
    // Always show consent, so every round ends with a consent POST on `finish`.
    prompt: 'consent',
  });
  let page = await html(await browser.get(url));
  assert.equal(page.status, 200, page.text.slice(0, 300));
  if (page.text.includes('name="password"')) {
    page = await html(await browser.submit(start, page.text, { username: user, password: PASSWORD }));
    assert.equal(page.status, 200, page.text.slice(0, 300));
  }
  assert.match(page.text, /name="decision"/, 'consent page expected');
  // The consent page (its CSRF token, its sealed request) came from `start`; the browser posts it to `finish`.
  const res = await browser.submit(finish, page.text, { decision: 'approve' });
  assert.equal(res.status, 303, `consent POST on the other instance: ${res.status} ${(await res.text()).slice(0, 300)}`);
  const location = new URL(res.headers.get('location')!);
  assert.equal(location.origin + location.pathname, REDIRECT);
  const code = location.searchParams.get('code');
  assert.ok(code, `no code in ${location}`);
  return { code, verifier };
}

export async function redeem(base: string, code: string, verifier: string) {
  return tokenCall(base, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });
}

/** A fresh grant, login on `start`, consent and code redemption on `finish`. */
export async function newGrant(browser: FormBrowser, start: string, finish: string): Promise<Tokens> {
  const { code, verifier } = await authorizeAcross(browser, start, finish);
  const res = await redeem(finish, code, verifier);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as unknown as Tokens;
}

/** Device authorization from `issuer`, verification page on `approver`. */
export async function startDevice(base: string) {
  const r = await post(`${base}/oauth2/device`, { client_id: 'tv', scope: 'openid offline_access xmpp' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as { device_code: string; user_code: string; verification_uri: string; interval: number };
}

export const pollDevice = (base: string, deviceCode: string) =>
  post(`${base}/oauth2/token`, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: 'tv' });

/** Errors logged at `error` or `fatal` (an operator must act: none expected in a healthy run). */
export const errorLines = (i: Instance) => i.logs.filter((l) => l.level === 'error' || l.level === 'fatal' || l.level === 50 || l.level === 60);
