import type { Request, Response } from 'express';
import type { LoginSession, Store } from '../store/types.js';
import { randomToken } from '../util/crypto.js';
import type { Signer } from './signing.js';
import { recordSecurityEvent, signInFromAmr } from '../oauth/account-life/security-events.js';

const SESSION_COOKIE = 'xo_session';
const CSRF_COOKIE = 'xo_csrf';
const PENDING_COOKIE = 'xo_pending';
/** How long the second step of a sign-in may take. */
const PENDING_TTL = 300;

/**
 * A sign-in half done: the first factor was right, a second one (or its
 * enrolment, under mfa.required: required) is still due. Not a session: it
 * opens no page but the second step, lives PENDING_TTL seconds in a sealed
 * cookie, and is bound to this browser's CSRF cookie.
 */
export interface PendingSignIn {
  jid: string;
  /** The account epoch read with the first factor: a password change meanwhile ends the sign-in. */
  epoch: string;
  /** What was shown so far (RFC 8176). */
  amr: string[];
  /** 'second-factor': ask one; 'enrol': set one up first (mfa.required: required). */
  due: 'second-factor' | 'enrol';
  /** Where to go once signed in, when no form carries the flow (upstream sign-in). */
  returnTo?: string;
  /** When the first factor was shown (unix seconds): the session's authTime, a step-up's too. */
  authTime?: number;
  /** The session a step-up (acr_values) replaces. */
  replaces?: string;
  /** The upstream provider (its name) that vouched for the first factor. */
  upstream?: string;
}

/**
 * Browser login sessions (a signed, httpOnly, SameSite=Lax cookie naming a
 * session kept in the store) and CSRF tokens (an HMAC of a per-browser
 * cookie, checked on every form post). Both verify on any instance.
 */
export class Sessions {
  constructor(
    private readonly store: Store,
    private readonly signer: Signer,
    private readonly opts: { ttl: number; secure: boolean },
  ) {}

  private cookie(maxAgeMs?: number) {
    return { httpOnly: true, sameSite: 'lax' as const, secure: this.opts.secure, path: '/', maxAge: maxAgeMs };
  }

  private readSigned(req: Request, name: string, purpose: string): string | null {
    const raw: unknown = req.cookies?.[name];
    if (typeof raw !== 'string') return null;
    const dot = raw.lastIndexOf('.');
    if (dot <= 0) return null;
    const value = raw.slice(0, dot);
    return this.signer.verify(purpose, value, raw.slice(dot + 1)) ? value : null;
  }

  async current(req: Request): Promise<LoginSession | null> {
    const id = this.readSigned(req, SESSION_COOKIE, 'session');
    if (!id) return null;
    const session = await this.store.getSession(id);
    // The store ends sessions of a removed, re-keyed or disabled account (its epoch check).
    if (!session || session.expiresAt <= Date.now()) return null;
    return session;
  }

  /**
   * Opens a session for `jid`, bound to the account epoch read when the user
   * was authenticated (so a password change racing this login still ends it);
   * without one, the account's current epoch. Every web sign-in ends here, so
   * it is recorded here (issue 26 #5); `upstream` names the provider that vouched,
   * `authTime` when the sign-in's first factor was shown (default: now).
   */
  async start(res: Response, jid: string, amr: string[], epoch?: string, upstream?: string, authTime?: number): Promise<LoginSession> {
    const now = Date.now();
    const session: LoginSession = {
      id: randomToken(24),
      jid,
      authTime: Math.min(authTime ?? Infinity, Math.floor(now / 1000)),
      amr,
      createdAt: now,
      expiresAt: now + this.opts.ttl * 1000,
      epoch: epoch ?? (await this.store.getAccount(jid))?.epoch ?? '',
    };
    await this.store.saveSession(session);
    res.cookie(SESSION_COOKIE, `${session.id}.${this.signer.sign('session', session.id)}`, this.cookie(this.opts.ttl * 1000));
    void recordSecurityEvent({ store: this.store }, jid, upstream ? { kind: 'web-sign-in', method: 'upstream', provider: upstream } : { kind: 'web-sign-in', ...signInFromAmr(amr) });
    return session;
  }

  /**
   * Carries `session` on under the account's new epoch (after the user ended
   * their other sessions or changed the password), under a new id and cookie:
   * a stolen copy of this browser's cookie ends with the others.
   */
  async renew(res: Response, session: LoginSession, epoch: string): Promise<LoginSession> {
    const next: LoginSession = { ...session, id: randomToken(24), epoch };
    await this.store.saveSession(next);
    await this.store.deleteSession(session.id);
    const maxAge = Math.max(0, next.expiresAt - Date.now());
    res.cookie(SESSION_COOKIE, `${next.id}.${this.signer.sign('session', next.id)}`, this.cookie(maxAge));
    return next;
  }

  async end(req: Request, res: Response): Promise<void> {
    const id = this.readSigned(req, SESSION_COOKIE, 'session');
    if (id) await this.store.deleteSession(id);
    res.clearCookie(SESSION_COOKIE, this.cookie());
  }

  /** The CSRF token for forms on this page; sets the browser's CSRF cookie if it has none. */
  csrfToken(req: Request, res: Response): string {
    return this.signer.sign('csrf', this.browserId(req, res));
  }

  /** This browser's CSRF cookie id, made (and set) when it has none. */
  private browserId(req: Request, res: Response): string {
    let id = this.readSigned(req, CSRF_COOKIE, 'csrf-cookie') ?? (res.locals.csrfCookieId as string | undefined);
    if (!id) {
      id = randomToken(18);
      res.cookie(CSRF_COOKIE, `${id}.${this.signer.sign('csrf-cookie', id)}`, this.cookie());
      // Two calls in one response share the new cookie.
      res.locals.csrfCookieId = id;
    }
    return id;
  }

  /** `data` sealed for a form or cookie of this browser only (bound to its CSRF cookie), for `ttl` seconds. */
  sealForBrowser(req: Request, res: Response, purpose: string, data: object, ttl: number): string {
    return this.signer.seal(purpose, { ...data, browser: this.browserId(req, res) }, ttl);
  }

  /** What sealForBrowser sealed, if it is live and this is the browser it was sealed for. */
  unsealForBrowser<T extends object>(req: Request, purpose: string, sealed: unknown): T | null {
    const p = this.signer.unseal<T & { browser?: string }>(purpose, sealed);
    const browser = this.readSigned(req, CSRF_COOKIE, 'csrf-cookie');
    if (!p || typeof p !== 'object' || !browser || p.browser !== browser) return null;
    const { browser: _bound, ...data } = p;
    return data as T;
  }

  /** Remembers a half-done sign-in in this browser (see PendingSignIn). */
  setPending(req: Request, res: Response, pending: PendingSignIn): void {
    res.cookie(PENDING_COOKIE, this.sealForBrowser(req, res, 'pending-sign-in', pending, PENDING_TTL), this.cookie(PENDING_TTL * 1000));
  }

  /** The half-done sign-in of this browser, if it is still live and was started here. */
  pending(req: Request): PendingSignIn | null {
    const p = this.unsealForBrowser<PendingSignIn>(req, 'pending-sign-in', req.cookies?.[PENDING_COOKIE]);
    return p && typeof p.jid === 'string' && Array.isArray(p.amr) ? p : null;
  }

  endPending(res: Response): void {
    res.clearCookie(PENDING_COOKIE, this.cookie());
  }

  async deleteSession(id: string): Promise<void> {
    await this.store.deleteSession(id);
  }

  checkCsrf(req: Request): boolean {
    const id = this.readSigned(req, CSRF_COOKIE, 'csrf-cookie');
    const token: unknown = req.body?.csrf;
    return Boolean(id) && typeof token === 'string' && this.signer.verify('csrf', id!, token);
  }
}
