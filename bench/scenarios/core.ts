// In-process core calls (what the XMPP IQ handler and introspection call).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { DURATION, ROOT, loop, type Row } from '../lib.js';

export async function coreScenarios(configFile: string, accessToken: string): Promise<Row[]> {
  // The built code, configured from the same file, on the same Redis: same keys, same grants.
  const { validate } = (await import(join(ROOT, 'dist/config/load.js'))) as { validate: (raw: Record<string, unknown>) => unknown };
  const { createApp } = (await import(join(ROOT, 'dist/app.js'))) as { createApp: (c: unknown, l: unknown) => Promise<CoreApp> };
  const { silentLogger } = (await import(join(ROOT, 'dist/log.js'))) as { silentLogger: unknown };
  const { validateAccessToken } = (await import(join(ROOT, 'dist/oauth/tokens/validate-token.js'))) as {
    validateAccessToken: (signer: unknown, store: unknown, token: string) => Promise<unknown>;
  };
  const { authenticate } = (await import(join(ROOT, 'dist/oauth/xmpp-login/xmpp-login.js'))) as {
    authenticate: (deps: unknown, user: string, host: string, secret: string) => Promise<{ ok: boolean }>;
  };
  const raw = YAML.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  const app = await createApp(validate(raw), silentLogger);
  try {
    const seconds = Math.max(2, Math.round(DURATION * 0.6));
    const check = async () => (await validateAccessToken(app.core.signer, app.store, accessToken)) !== null;
    if (!(await check())) throw new Error('in-process validateAccessToken refused a fresh token');
    // Tokens never seen before: the verified-token cache holds 4,096, so cycling
    // through 20,000 misses every time and measures the signature check too.
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as Record<string, string>;
    const input = { jid: claims.jid, clientId: claims.client_id, scope: claims.scope!.split(' '), grantId: claims.gid };
    const fresh: string[] = [];
    for (let i = 0; i < 20_000; i++) fresh.push((await app.core.signer.accessToken(input)).token);
    let next = 0;
    const checkFresh = async () => (await validateAccessToken(app.core.signer, app.store, fresh[next++ % fresh.length]!)) !== null;
    const rows = [
      await loop('validateAccessToken, in-process, 1 at a time', seconds, 1, check),
      await loop('validateAccessToken, in-process, 32 in flight', seconds, 32, check),
      await loop('validateAccessToken, a new token each call, 32 in flight', seconds, 32, checkFresh),
      await loop('authenticate(token) (XMPP login core), 32 in flight', seconds, 32, async () => (await authenticate(app.core, 'alice', 'localhost', accessToken)).ok),
    ];
    return rows;
  } finally {
    await app.stop();
  }
}

export interface CoreApp {
  core: { signer: { accessToken(input: { jid?: string; clientId?: string; scope: string[]; grantId?: string }): Promise<{ token: string }> } };
  store: unknown;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// extauth bridge
