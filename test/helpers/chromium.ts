// Real-browser helpers: Debian's Chromium driven by playwright-core (never a
// downloaded browser), with every page watched for console errors, uncaught
// exceptions and Content-Security-Policy violations.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(process.cwd(), 'test-output', 'browser');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** Records CSP violations through a binding, so they survive navigations. Runs in the page (no DOM types here). */
const CSP_LISTENER = `
  document.addEventListener('securitypolicyviolation', (e) => {
    try {
      globalThis.__xoCspViolation(
        'CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)') +
        ' in ' + e.documentURI + (e.sourceFile ? ' (' + e.sourceFile + ':' + e.lineNumber + ')' : '') +
        (e.sample ? ' sample: ' + e.sample : ''),
      );
    } catch {}
  });
`;

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Everything the browser complained about so far. */
  problems: string[];
  /** Saves a full-page screenshot as test-output/browser/<name>.png. */
  screenshot(name: string, target?: Page): Promise<void>;
  /** Asserts no console error, page error or CSP violation occurred, then closes the context. */
  finish(): Promise<void>;
}

/**
 * A fresh browser context with one page, watched: console errors, uncaught
 * page errors, failed requests and CSP violations land in `problems`.
 */
export async function openPage(browser: Browser, options: BrowserContextOptions = {}): Promise<WatchedPage> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const context = await browser.newContext({ ...options });
  // Our pages answer in milliseconds; fail fast rather than after Playwright's 30 s.
  context.setDefaultTimeout(8000);
  const problems: string[] = [];
  const javaScript = options.javaScriptEnabled !== false;
  if (javaScript) {
    await context.exposeBinding('__xoCspViolation', (_source, text: string) => {
      problems.push(text);
    });
    await context.addInitScript(CSP_LISTENER);
  }
  const watch = (page: Page) => {
    page.on('console', (msg) => {
      const text = msg.text();
      if (msg.type() === 'error' || /Content.Security.Policy/i.test(text)) {
        const where = msg.location();
        problems.push(`console.${msg.type()}: ${text}${where.url ? ` (${where.url}:${where.lineNumber})` : ''}`);
      }
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('requestfailed', (req) => {
      const failure = req.failure()?.errorText ?? 'failed';
      // A navigation replaced by the next one is aborted, which is no fault of the page; so is
      // a subresource the browser was still fetching when a form submit left the page (the
      // favicon, seen in CI). Any other failure, and any error status, still counts.
      if (failure === 'net::ERR_ABORTED' && (req.isNavigationRequest() || /\/static\/favicon\.svg$/.test(req.url()))) return;
      problems.push(`request failed: ${req.method()} ${req.url()}: ${failure}`);
    });
  };
  context.on('page', watch);
  const page = await context.newPage();
  return {
    context,
    page,
    problems,
    async screenshot(name, target = page) {
      await target.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    },
    async finish() {
      // Let late console messages and violation reports arrive before judging.
      for (const p of context.pages()) await p.waitForLoadState('load').catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
      await context.close();
      assert.deepEqual(problems, [], `the browser reported problems:\n${problems.join('\n')}`);
    },
  };
}

export interface CallbackServer {
  /** Base URL, e.g. http://127.0.0.1:12345; the redirect URI is `${url}/cb`. */
  url: string;
  redirectUri: string;
  stop(): Promise<void>;
}

/** A tiny stand-in for the client's web site: the redirect URI answers with a plain page. */
export async function startCallbackServer(): Promise<CallbackServer> {
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/cb')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'" });
      res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Client app</title></head><body><h1>Client received the redirect</h1></body></html>');
    } else {
      // favicon and anything else: nothing here, but no error either.
      res.writeHead(204).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    redirectUri: `${url}/cb`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
