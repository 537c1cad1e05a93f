// A real upstream OpenID Connect provider for the SSO tests: panva's
// oidc-provider (dev dependency) on a loopback port, with its own accounts
// (a username claim and groups), a plain login form of ours (its dev
// interactions pull web fonts from the internet), and no consent prompt for
// our client, as a first-party IdP is usually set up.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './ports.js';

export interface IdpAccount {
  preferred_username?: string;
  name?: string;
  groups?: string[];
  /** What the IdP says about the sign-in (RFC 8176 amr, its own acr): the login's, not a profile claim. */
  amr?: string[];
  acr?: string;
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Accounts by login name (also their `sub`); edit freely between sign-ins. */
  accounts: Map<string, IdpAccount>;
  /** While true, every ID token from the token endpoint has one signature byte changed. */
  tamperIdTokens: boolean;
  /** The IdP's private signing key (JWK), for tests that forge or replay logout tokens. */
  signingJwk: Record<string, unknown> & { kid: string };
  /** When set, the redirect back to the client is not sent: its URL goes here, the browser gets a plain page. */
  holdCallback?: (url: string) => void;
  stop(): Promise<void>;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

async function formFields(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

export async function startTestIdp(opts: { redirectUris: string[]; accounts: Record<string, IdpAccount>; backchannelLogoutUri?: string }): Promise<TestIdp> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'xmpp-oauth';
  const clientSecret = 'test-idp-client-secret-0123456789';
  const accounts = new Map(Object.entries(opts.accounts));
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId, client_secret: clientSecret, redirect_uris: opts.redirectUris, grant_types: ['authorization_code'], response_types: ['code'], id_token_signed_response_alg: 'ES256',
      ...(opts.backchannelLogoutUri ? { backchannel_logout_uri: opts.backchannelLogoutUri, backchannel_logout_session_required: false } : {}),
    }],
    jwks: { keys: [{ ...jwk, kid: 'idp-es256', use: 'sig', alg: 'ES256' }] },
    scopes: ['openid', 'profile'],
    // amr and acr: what an account's sign-in says (IdpAccount.amr/acr), in the ID token when set.
    claims: { openid: ['sub', 'acr', 'amr'], profile: ['preferred_username', 'name', 'groups'] },
    acrValues: ['urn:idp:loa:1', 'urn:idp:loa:mfa'],
    findAccount: async (_ctx: unknown, sub: string) => {
      const a = accounts.get(sub);
      const profile = ({ amr: _amr, acr: _acr, ...rest }: IdpAccount = {}) => rest;
      return a ? { accountId: sub, claims: async () => ({ sub, ...profile(accounts.get(sub)) }) } : undefined;
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    // First-party: no consent screen at the IdP.
    loadExistingGrant: async (ctx: any) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid profile');
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: Boolean(opts.backchannelLogoutUri) },
      // A plain confirmation page (theirs loads web fonts from the internet).
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: any, form: string) => {
          ctx.body = page('Sign out of Test IdP', `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>`);
        },
        postLogoutSuccessSource: async (ctx: any) => {
          ctx.body = page('Signed out of Test IdP', '<p>Done.</p>');
        },
      },
    },
    cookies: { keys: ['test-idp-cookie-key-0123456789abcdef'] },
    // Its SSRF guard refuses loopback addresses, and our server is on loopback here.
    fetch: (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => {
      const { dispatcher: _guard, ...rest } = options;
      return fetch(url, rest);
    },
  } as any);
  provider.on('server_error', (_ctx: unknown, err: unknown) => process.stderr.write(`test IdP server_error: ${String(err)}\n`));
  provider.on('backchannel.error', (_ctx: unknown, err: unknown) => process.stderr.write(`test IdP backchannel.error: ${String(err)} ${String((err as { cause?: unknown }).cause)}\n`));

  const signingJwk = { ...jwk, kid: 'idp-es256', alg: 'ES256' } as Record<string, unknown> & { kid: string };
  const idp: TestIdp = { issuer, clientId, clientSecret, accounts, signingJwk, tamperIdTokens: false, stop: async () => {} };
  (provider as any).use(async (ctx: any, next: () => Promise<void>) => {
    await next();
    const location: string | undefined = ctx.response.get('location') || undefined;
    if (idp.holdCallback && location && opts.redirectUris.some((r) => location.startsWith(`${r}?`))) {
      const hold = idp.holdCallback;
      idp.holdCallback = undefined;
      hold(location);
      ctx.remove('location');
      ctx.status = 200;
      ctx.type = 'html';
      ctx.body = page('held', '<p>The redirect to the client was held back.</p>');
    }
    if (idp.tamperIdTokens && ctx.path === '/token' && ctx.body && typeof ctx.body.id_token === 'string') {
      const [h, p, s] = (ctx.body.id_token as string).split('.');
      const flipped = (s![5] === 'A' ? 'B' : 'A');
      ctx.body = { ...ctx.body, id_token: `${h}.${p}.${s!.slice(0, 5)}${flipped}${s!.slice(6)}` };
    }
  });

  const callback = provider.callback();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
      if (!url.pathname.startsWith('/interaction/')) return callback(req, res);
      const uid = url.pathname.split('/')[2] ?? '';
      const form = (error = '') =>
        page('Test IdP sign-in', `${error ? `<p role="alert">${esc(error)}</p>` : ''}<form method="post" action="/interaction/${esc(uid)}">` +
          '<label>Login <input name="login" type="text" autocomplete="username"></label>' +
          '<label>Password <input name="password" type="password"></label><button type="submit">Sign in at Test IdP</button></form>');
      try {
        await (provider as any).interactionDetails(req, res);
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(form());
          return;
        }
        const login = (await formFields(req)).get('login') ?? '';
        if (!accounts.has(login)) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(form('unknown login'));
          return;
        }
        const { amr, acr } = accounts.get(login)!;
        await (provider as any).interactionFinished(req, res, { login: { accountId: login, ...(amr ? { amr } : {}), ...(acr ? { acr } : {}) } }, { mergeWithLastSubmission: false });
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page('Test IdP error', esc(String(err))));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  idp.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return idp;
}
