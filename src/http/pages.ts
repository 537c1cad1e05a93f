import type { Request, Response } from 'express';
import type { Config } from '../config/schema.js';
import type { Accounts } from '../accounts/accounts.js';
import type { Client } from '../oauth/clients/clients.js';
import type { CoreMetrics } from '../oauth/context.js';
import { usernameToJid } from '../oauth/account-life/username.js';
import type { LoginSession } from '../store/types.js';
import type { Sessions } from './session.js';
import type { Views } from './views.js';
import { consentView } from './view-models.js';

export interface LoginError {
  status: number;
  error: string;
  seconds?: number;
  username?: string;
}

export interface LoginForm {
  action: string;
  /** Sealed request carried through the form ('' when there is none). */
  interaction: string;
  clientName: string;
  username?: string;
  /** Locale key of the sentence above the form. */
  intro?: string;
  /** Local path an upstream sign-in returns to (the flow the login page interrupts). */
  returnTo?: string;
}

/**
 * The pages shared by every browser flow (authorization code and device):
 * login, consent, error and plain messages, plus the login form's handling.
 */
export class Pages {
  constructor(
    private readonly views: Views,
    private readonly sessions: Sessions,
    private readonly config: Config,
    private readonly accounts: Accounts,
    private readonly metrics?: CoreMetrics,
  ) {}

  login(req: Request, res: Response, form: LoginForm, err?: LoginError) {
    res.status(err?.status ?? 200).type('html').send(
      this.views.render('login', {
        title: 'login.title',
        ...form,
        intro: form.intro ?? 'login.intro',
        csrf: this.sessions.csrfToken(req, res),
        username: err?.username ?? form.username ?? '',
        error: err?.error,
        seconds: err?.seconds,
        domain: this.config.xmpp.hosts[0],
        localLogin: this.config.local_login,
        providers: this.config.upstream.providers.map((p) => ({ id: p.id, name: p.name })),
        returnTo: form.returnTo ?? '/account',
      }),
    );
  }

  consent(
    req: Request,
    res: Response,
    form: { action: string; interaction: string; client: Client; scope: string[]; redirectUri?: string; session: LoginSession; userCode?: string; /** Approved before, asked again because the client cannot prove who it is. */ approvedBefore?: boolean },
  ) {
    res.type('html').send(
      this.views.render('consent', {
        title: 'consent.title',
        action: form.action,
        interaction: form.interaction,
        csrf: this.sessions.csrfToken(req, res),
        jid: form.session.jid,
        userCode: form.userCode,
        approvedBefore: form.approvedBefore,
        ...consentView(form.client, form.scope, form.redirectUri, this.config),
      }),
    );
  }

  error(res: Response, status: number, error: string, description: string) {
    res.status(status).type('html').send(this.views.render('error', { title: 'error.title', error, description }));
  }

  message(res: Response, status: number, data: { title: string; heading: string; text: string; [k: string]: unknown }) {
    res.status(status).type('html').send(this.views.render('message', data));
  }

  /** CSRF check for a form post; renders the refusal itself. */
  csrfOk(req: Request, res: Response): boolean {
    if (this.sessions.checkCsrf(req)) return true;
    this.error(res, 403, 'csrf', 'error.csrf');
    return false;
  }

  /**
   * Handles a submitted login form: a session on success, otherwise renders
   * the login page again with the reason (401, or 429 with Retry-After).
   */
  async handleLogin(
    req: Request,
    res: Response,
    form: LoginForm,
  ): Promise<LoginSession | null> {
    if (!this.config.local_login) {
      this.login(req, res, form, { status: 403, error: 'login.local_disabled' });
      return null;
    }
    const { username, password } = req.body as Record<string, unknown>;
    if (typeof username !== 'string' || typeof password !== 'string' || !username) {
      this.login(req, res, form, { status: 400, error: 'login.missing' });
      return null;
    }
    const jid = usernameToJid(username, this.config);
    const result = jid ? await this.accounts.verify(jid, password, req.ip) : ({ ok: false, reason: 'invalid' } as const);
    this.metrics?.login('web', result.ok ? 'ok' : result.reason === 'throttled' ? 'throttled' : 'failed');
    if (result.ok) return this.sessions.start(res, result.jid, ['pwd'], result.epoch);
    if (result.reason === 'throttled') {
      const seconds = Math.ceil(result.retryAfterMs / 1000);
      res.set('Retry-After', String(seconds));
      this.login(req, res, form, { status: 429, error: 'login.throttled', seconds, username });
    } else {
      this.login(req, res, form, { status: 401, error: 'login.failed', username });
    }
    return null;
  }
}
