// oidc-provider, the comparison (bench/oidc-provider-server.ts in its own process).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../test/helpers/ports.js';
import { ROOT, cleanEnv, form, log, type Target } from './lib.js';

export interface Theirs {
  target: Target;
  child: ChildProcess;
  /** Refresh-token chains, all on one new grant or each on a grant of its own, and an access token. */
  mint(chains: number, grantPerChain: boolean): Promise<Minted>;
  stats(): Promise<Stats>;
}

export interface Minted {
  refreshTokens: string[];
  accessToken: string;
}

export interface Stats {
  loopP99Ms: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export async function startTheirs(): Promise<Theirs> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'oidc-provider-server.ts'), String(port)], {
    cwd: ROOT,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
    // Pass on what oidc-provider warns about (unsupported Node version, development-only adapter).
    for (const line of d.toString().split('\n')) if (line.includes('oidc-provider WARNING')) log(line.trim());
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // Answers come back in order, one per request.
  const waiting: Record<'stats' | 'minted', Array<(msg: Record<string, unknown>) => void>> = { stats: [], minted: [] };
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start within 20 s:\n${output}`)), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`oidc-provider exited (${code}):\n${output}`));
    });
    child.on('message', (msg: { type: string } & Record<string, unknown>) => {
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve(msg.url as string);
      } else if (msg.type === 'stats' || msg.type === 'minted') waiting[msg.type].shift()?.(msg);
    });
  });
  const ask = (type: 'stats' | 'minted', request: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`oidc-provider is gone:\n${output}`));
      waiting[type].push(resolve);
      child.send(request);
    });
  const stats = async () => (await ask('stats', { type: 'stats' })) as unknown as Stats;
  const mint = async (chains: number, grantPerChain: boolean) => {
    const msg = await ask('minted', { type: 'mint', chains, grantPerChain });
    if (msg.error) throw new Error(`oidc-provider could not mint tokens: ${String(msg.error)}`);
    return msg as unknown as Minted;
  };
  const url = await ready;
  return {
    target: { name: 'oidc-provider', url, tokenPath: '/token', introspectPath: '/token/introspection', revokePath: '/token/revocation', discoveryPath: '/.well-known/openid-configuration', loopP99: async () => (await stats()).loopP99Ms },
    child,
    mint,
    stats,
  };
}

/**
 * Their rotation must behave like ours before it is compared: on a grant of its
 * own, a refresh answers a new refresh token, replaying the spent one is
 * refused, and the replay revokes the grant (the new token is refused too).
 */
export async function checkTheirRotation(theirs: Theirs): Promise<void> {
  const [probe] = (await theirs.mint(1, false)).refreshTokens;
  const token = (refresh_token: string) => fetch(theirs.target.url + theirs.target.tokenPath, form({ grant_type: 'refresh_token', refresh_token }));
  const first = await token(probe!);
  const body = (await first.json()) as { refresh_token?: string };
  if (first.status !== 200 || !body.refresh_token || body.refresh_token === probe) {
    throw new Error(`oidc-provider does not rotate refresh tokens: ${first.status} ${JSON.stringify(body)}`);
  }
  const replay = await token(probe!);
  const after = await token(body.refresh_token);
  if (replay.status !== 400 || after.status !== 400) {
    throw new Error(`oidc-provider replay handling differs from ours: replay ${replay.status}, next token after the replay ${after.status}`);
  }
}
