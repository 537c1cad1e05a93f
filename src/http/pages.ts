import type { Request, Response } from 'express';
import type { Config } from '../config/schema.js';
import type { Accounts } from '../accounts/accounts.js';
import type { Client } from '../oauth/clients/clients.js';
import type { CoreMetrics } from '../oauth/context.js';
import { usernameToJid } from '../oauth/account-life/username.js';
import type { LoginSession } from '../store/types.js';
import type { SecondFactors } from '../accounts/second-factor/second-factors.js';
import type { FactorKind } from '../accounts/second-factor/factors.js';
import { completeAmr, isMultiFactor } from '../accounts/second-factor/assurance.js';
import { signInDue, type AssuranceInput, type SignInDue } from '../oauth/account-life/sign-in-assurance.js';
import type { PendingSignIn, Sessions } from './session.js';
import type { Views } from './views.js';
import { consentView, secondStepView, totpEnrolView } from './view-models.js';
import { passkeySecondFactor, passkeySignInOffered } from './passkey-pages.js';
import type { Passkeys } from '../accounts/passkeys/passkeys.js';

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

/** A right first factor (a password, an upstream sign-in) or an existing session asked to step up. */
export type FirstFactor = Omit<PendingSignIn, 'due'>;

/** How long a TOTP enrolment (QR shown, first code not yet typed) may take. */
const ENROL_TTL = 900;

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
    /** Second factors (issue 26); the account routes use the same instance. */
    readonly factors?: SecondFactors,
    /** Passkeys (issue 26 #1), a choice of the second step; null when the issuer cannot have any. */
    readonly passkeys?: Passkeys | null,
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
        passkeySignIn: passkeySignInOffered(this.config),
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
   * the login page again with the reason (401, or 429 with Retry-After). A
   * right password of an account with a second factor renders the second
   * step instead (null); the step posts back here (`step`), and so does an
   * enrolment that mfa.required demands. `res.locals.returnTo` then says
   * where a flow without a form (an upstream sign-in) goes on.
   */
  async handleLogin(
    req: Request,
    res: Response,
    form: LoginForm,
  ): Promise<LoginSession | null> {
    const { username, password, step } = req.body as Record<string, unknown>;
    if (step === 'second-factor' || step === 'enrol') return this.handleStep(req, res, form, step);
    if (!this.config.local_login) {
      this.login(req, res, form, { status: 403, error: 'login.local_disabled' });
      return null;
    }
    if (typeof username !== 'string' || typeof password !== 'string' || !username) {
      this.login(req, res, form, { status: 400, error: 'login.missing' });
      return null;
    }
    const jid = usernameToJid(username, this.config);
    const result = jid ? await this.accounts.verify(jid, password, req.ip) : ({ ok: false, reason: 'invalid' } as const);
    this.metrics?.login('web', result.ok ? 'ok' : result.reason === 'throttled' ? 'throttled' : 'failed');
    if (result.ok) return this.afterFirstFactor(req, res, form, { jid: result.jid, epoch: result.epoch, amr: ['pwd'] });
    if (result.reason === 'throttled') {
      const seconds = Math.ceil(result.retryAfterMs / 1000);
      res.set('Retry-After', String(seconds));
      this.login(req, res, form, { status: 429, error: 'login.throttled', seconds, username });
    } else {
      this.login(req, res, form, { status: 401, error: 'login.failed', username });
    }
    return null;
  }

  /**
   * What this browser must still show (src/oauth/account-life/sign-in-assurance.ts)
   * before `session` may go on: `fresh` when its first factor was shown in
   * this very request, `request` what an authorization request asks.
   */
  async due(session: Pick<LoginSession, 'jid' | 'amr' | 'authTime'> | null, fresh: boolean, request?: AssuranceInput['request']): Promise<SignInDue> {
    const kinds = session && !isMultiFactor(session.amr) && this.factors ? await this.factors.kinds(session.jid) : [];
    return signInDue({
      kinds,
      signIn: session,
      fresh,
      // Not rounded: a session opened earlier this second is older than max_age=0.
      now: Date.now() / 1000,
      policy: { mfaRequired: this.config.mfa.required, recentSignIn: this.config.recent_sign_in },
      request,
    });
  }

  /**
   * After a right first factor: the session, or (null) the page of what is
   * still due: the second step when the account has a factor, its enrolment
   * when mfa.required is `required` and it has none.
   */
  async afterFirstFactor(req: Request, res: Response, form: LoginForm, first: FirstFactor): Promise<LoginSession | null> {
    const shown = { ...first, authTime: first.authTime ?? Math.floor(Date.now() / 1000) };
    const due = await this.due(shown, true);
    if (due.due === 'second-factor' || due.due === 'enrol') {
      await this.showStep(req, res, form, shown, due);
      return null;
    }
    return this.finishSignIn(req, res, shown);
  }

  /**
   * An existing session that must show a second factor (acr_values asked
   * for two, or mfa.required), as `due` says: the second step or the
   * enrolment, completing the session's own sign-in (its first factor's time
   * is kept). A session too old for that is never here: signInDue asks it
   * for the full sign-in instead.
   */
  async stepUp(req: Request, res: Response, form: LoginForm, session: LoginSession, due: Extract<SignInDue, { due: 'second-factor' | 'enrol' }>): Promise<void> {
    await this.showStep(req, res, form, { jid: session.jid, epoch: session.epoch ?? '', amr: session.amr, authTime: session.authTime, replaces: session.id }, due);
  }

  /** The login page again for a session signInDue sends back to the full sign-in (a step it is too old for). */
  signInAgain(req: Request, res: Response, form: LoginForm, why: Extract<SignInDue, { due: 'sign-in' }>['why']) {
    this.login(req, res, why === 'not-recent' ? { ...form, intro: 'login.again' } : form);
  }

  private async showStep(req: Request, res: Response, form: LoginForm, first: FirstFactor, due: Extract<SignInDue, { due: 'second-factor' | 'enrol' }>) {
    this.sessions.setPending(req, res, { ...first, due: due.due });
    if (due.due === 'second-factor') this.secondStep(req, res, form, due.kinds);
    else await this.enrolStep(req, res, form, first.jid);
  }

  /**
   * The second step's page: one choice per factor kind the account has
   * (src/accounts/second-factor/factors.ts), a recovery code beside TOTP.
   */
  secondStep(req: Request, res: Response, form: LoginForm, kinds: FactorKind[], err?: LoginError) {
    res.status(err?.status ?? 200).type('html').send(
      this.views.render('second-factor', {
        title: 'second_factor.title',
        ...secondStepView(form, kinds),
        csrf: this.sessions.csrfToken(req, res),
        error: err?.error,
        seconds: err?.seconds,
      }),
    );
  }

  /**
   * The TOTP enrolment page: a fresh secret (or the one being confirmed),
   * its QR code as inline SVG, and the form for the first code. The secret
   * travels sealed for this browser and account, nothing is stored yet.
   */
  async enrolPage(
    req: Request,
    res: Response,
    target: { action: string; interaction?: string; step?: 'enrol'; jid: string; secret?: string; required?: boolean; cancel?: boolean },
    err?: LoginError,
  ) {
    if (!this.factors) throw new Error('second factors are not configured');
    const secret = target.secret ?? this.factors.newTotpSecret();
    const uri = this.factors.totpUri(target.jid, secret);
    const enrolment = this.sessions.sealForBrowser(req, res, 'totp-enrol', { jid: target.jid, secret }, ENROL_TTL);
    res.status(err?.status ?? 200).type('html').send(
      this.views.render('totp-enrol', {
        title: 'totp.enrol.title',
        ...(await totpEnrolView(secret, uri)),
        action: target.action,
        interaction: target.interaction,
        step: target.step,
        enrolment,
        required: target.required,
        cancel: target.cancel,
        csrf: this.sessions.csrfToken(req, res),
        error: err?.error,
        seconds: err?.seconds,
      }),
    );
  }

  /** The enrolment's sealed secret from a posted form, if it was made for this browser and account. */
  enrolment(req: Request, jid: string): string | null {
    const e = this.sessions.unsealForBrowser<{ jid?: string; secret?: string }>(req, 'totp-enrol', (req.body as Record<string, unknown>).enrolment);
    return e && e.jid === jid && typeof e.secret === 'string' ? e.secret : null;
  }

  /** Recovery codes, shown this once (the page is no-store), and the way on. */
  recoveryCodes(res: Response, codes: string[], next: string, intro = 'recovery.intro') {
    res.type('html').send(this.views.render('recovery-codes', { title: 'recovery.title', intro, codes, next }));
  }

  private enrolStep(req: Request, res: Response, form: LoginForm, jid: string, secret?: string, err?: LoginError) {
    return this.enrolPage(req, res, { action: form.action, interaction: form.interaction, step: 'enrol', jid, secret, required: true }, err);
  }

  /** The second step posted back: the pending sign-in of this browser, then its factor or enrolment. */
  private async handleStep(req: Request, res: Response, form: LoginForm, step: 'second-factor' | 'enrol'): Promise<LoginSession | null> {
    const pending = this.sessions.pending(req);
    const body = req.body as Record<string, unknown>;
    if (!pending || pending.due !== step || !this.factors) {
      this.sessions.endPending(res);
      this.login(req, res, form, { status: 401, error: 'login.expired' });
      return null;
    }
    const code = typeof body.code === 'string' ? body.code.slice(0, 64) : '';
    res.locals.returnTo = pending.returnTo;
    if (step === 'enrol') {
      const secret = this.enrolment(req, pending.jid);
      if (!secret) {
        this.sessions.endPending(res);
        this.login(req, res, form, { status: 401, error: 'login.expired' });
        return null;
      }
      const confirmed = await this.factors.confirmTotp(pending.jid, secret, code, req.ip);
      if (!confirmed.ok) {
        await this.enrolStep(req, res, form, pending.jid, secret, refusal(res, confirmed, 'totp.enrol.wrong'));
        return null;
      }
      const session = await this.finishSignIn(req, res, { ...pending, amr: [...pending.amr, 'otp'] });
      this.recoveryCodes(res, confirmed.recoveryCodes, pending.returnTo ?? form.returnTo ?? '/account');
      // The page is rendered; the caller must not go on (the codes are shown first).
      void session;
      return null;
    }
    const method = body.method === 'recovery' ? 'recovery' : 'totp';
    // A passkey's answer is checked against the ceremony this browser's pending sign-in started (passkey-pages.ts).
    const checked = body.method === 'passkey' ? await passkeySecondFactor(this.passkeys, req, pending) : await this.factors.check(pending.jid, method, code, req.ip);
    this.metrics?.login('web', checked.ok ? 'ok' : checked.reason === 'throttled' ? 'throttled' : 'failed');
    if (checked.ok) return this.finishSignIn(req, res, { ...pending, amr: [...pending.amr, checked.amr] });
    this.secondStep(req, res, form, await this.factors.kinds(pending.jid), refusal(res, checked, 'second_factor.wrong'));
    return null;
  }

  /** The session, with the methods shown (mfa added when two kinds of factor were); the pending state and any step-up's old session end. */
  private async finishSignIn(req: Request, res: Response, done: FirstFactor): Promise<LoginSession> {
    this.sessions.endPending(res);
    if (done.replaces) await this.sessions.deleteSession(done.replaces);
    // The sign-in's time is its first factor's: a second step or an enrolment never makes an old sign-in recent.
    return this.sessions.start(res, done.jid, completeAmr(done.amr), done.epoch || undefined, done.upstream, done.authTime);
  }
}

function refusal(res: Response, r: { reason: 'invalid' } | { reason: 'throttled'; retryAfterMs: number }, wrong: string): LoginError {
  if (r.reason === 'throttled') {
    const seconds = Math.ceil(r.retryAfterMs / 1000);
    res.set('Retry-After', String(seconds));
    return { status: 429, error: 'login.throttled', seconds };
  }
  return { status: 401, error: wrong };
}
