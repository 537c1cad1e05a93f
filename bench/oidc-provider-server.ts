// The comparison server for `npm run bench`: panva's oidc-provider (the
// devDependency, v9) with its in-memory adapter, set up like our benchmark
// server, in its own process so it does not share the benchmark's event loop.
//
// Started by bench/run.ts with an IPC channel:
//   node --import tsx bench/oidc-provider-server.ts PORT
// It listens on 127.0.0.1:PORT and sends { type: 'ready', url }. Then, on
//   { type: 'mint', chains, grantPerChain } it answers { type: 'minted',
//     refreshTokens, accessToken }: `chains` refresh tokens, all on one new
//     grant (as our benchmark's password grants all land on one grant: one
//     user, one client) or each on a grant of its own, and one access token on
//     the (first) grant;
//   { type: 'stats' } it answers { type: 'stats', loopP99Ms, rssBytes,
//     heapUsedBytes } and resets the event-loop histogram, like a scrape of our
//     /metrics does.
// Tokens are minted on demand, right before the scenario that uses them: the
// in-memory adapter is an LRU of about 1,000 entries, and anything not used
// for a thousand-odd writes is evicted.
//
// Tokens are created through the provider's own models (Grant, RefreshToken,
// AccessToken), exactly what its authorization_code grant would have stored:
// a refresh token needs a user grant, and driving the browser flow here would
// only add set-up time.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Provider from 'oidc-provider';

// The same client as bench/run.ts configures for our server (its FORM headers carry these).
const CLIENT_ID = 'bench';
const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef';
const ACCOUNT = 'alice@localhost';
// The scope our benchmark's tokens carry ('openid' makes both servers sign an ID token on refresh).
const SCOPE = 'openid offline_access xmpp';

async function main(): Promise<void> {
  const port = Number(process.argv[2]);
  if (!port) throw new Error('usage: oidc-provider-server.ts PORT');
  const issuer = `http://127.0.0.1:${port}`;

  // ID tokens signed with ES256 on a P-256 key, as ours are (their default would be RS256).
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['https://bench.example/cb'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [{ ...jwk, kid: 'bench-es256', use: 'sig', alg: 'ES256' }] },
    scopes: ['openid', 'offline_access', 'xmpp'],
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    // Rotation on every use, as ours (their default rotates only past 70 % of the lifetime).
    rotateRefreshToken: true,
    // Our defaults: access token 1 h, refresh token 7 days.
    ttl: { AccessToken: 3600, IdToken: 3600, RefreshToken: 604_800, Grant: 604_800, Session: 86_400, Interaction: 3600, AuthorizationCode: 120 },
    features: {
      // Our policy: a client sees only its own tokens (also silences their "SHOULD change" notice).
      introspection: { enabled: true, allowedPolicy: async (_ctx: unknown, caller: { clientId: string }, token: { clientId?: string }) => token.clientId === caller.clientId },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
    },
    cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
    // No adapter: the built-in in-memory one (their "quick start" adapter, an LRU in the process).
  });
  provider.on('server_error', (_ctx: unknown, err: unknown) => process.stderr.write(`oidc-provider server_error: ${String(err)}\n`));

  const client = await provider.Client.find(CLIENT_ID);
  if (!client) throw new Error('the benchmark client is not configured');
  const mint = async () => {
    const grant = new provider.Grant({ accountId: ACCOUNT, clientId: CLIENT_ID });
    grant.addOIDCScope(SCOPE);
    return grant.save();
  };
  const authTime = Math.floor(Date.now() / 1000);
  const token = (grantId: string) => ({ accountId: ACCOUNT, client, grantId, scope: SCOPE, gty: 'authorization_code', authTime, expiresWithSession: false });

  const mintChains = async (chains: number, grantPerChain: boolean) => {
    const grants = [await mint()];
    const refreshTokens: string[] = [];
    for (let i = 0; i < chains; i++) {
      if (grantPerChain && i > 0) grants.push(await mint());
      refreshTokens.push(await new provider.RefreshToken(token(grants.at(-1)!)).save());
    }
    const accessToken = await new provider.AccessToken(token(grants[0]!)).save();
    return { refreshTokens, accessToken };
  };

  const loop = monitorEventLoopDelay({ resolution: 10 }); // what prom-client uses for our server
  loop.enable();
  process.on('message', (msg: { type?: string; chains?: number; grantPerChain?: boolean }) => {
    if (msg?.type === 'stats') {
      const { rss, heapUsed } = process.memoryUsage();
      process.send!({ type: 'stats', loopP99Ms: loop.percentile(99) / 1e6, rssBytes: rss, heapUsedBytes: heapUsed });
      loop.reset();
    } else if (msg?.type === 'mint') {
      mintChains(msg.chains ?? 1, msg.grantPerChain ?? false).then(
        (minted) => process.send!({ type: 'minted', ...minted }),
        (err: unknown) => process.send!({ type: 'minted', error: String(err) }),
      );
    }
  });
  // The parent going away closes the IPC channel: leave with it.
  process.on('disconnect', () => process.exit(0));

  const server = createServer(provider.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  process.send!({ type: 'ready', url: issuer });
}

main().catch((err: unknown) => {
  process.stderr.write(`oidc-provider bench server failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
