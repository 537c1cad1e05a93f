// The XMPP path through a real Prosody 0.12 (test/helpers/prosody.ts, our Lua
// module from contrib/prosody/): c2s logins with SASL PLAIN and an access
// token as the password. Each login makes Prosody send one auth query to our
// component over the XEP-0114 link and wait for the answer, so logins/s is
// auth-query round trips/s through Prosody; the latency is the whole login
// (TCP connect, stream, SASL), as a client sees it.
//
// Then password logins (issue 23): SCRAM-SHA-1 and SCRAM-SHA-256 through our
// module (Prosody runs the exchange with a verifier asked of the component,
// one `<scram/>` query per login, then a `<scram-success/>` sent without
// waiting), PLAIN with the password through our module (one auth query, an
// argon2id check in the component), and Prosody's own `internal_hashed` on a
// second VirtualHost of the same Prosody (no component; SCRAM-SHA-1, the only
// SCRAM it offers; the account made by `prosodyctl register`), in alternated
// rounds, with ratios.
import { pluginDirWithModule } from '../../test/helpers/prosody-module.js';
import { prosodyctlRegister } from '../../test/helpers/prosody-accounts.js';
import { startProsody, type ProsodyInstance } from '../../test/helpers/prosody.js';
import { rawSasl } from '../../test/helpers/xmpp-client.js';
import { DURATION, PASSWORD, ROUNDS, combine, log, loop, type Row } from '../lib.js';
import { scramLogin } from '../scram.js';

export const COMPONENT = { domain: 'oauth.localhost', secret: 'bench-component-secret-0123456789' };
/** The VirtualHost of the same Prosody on its own `internal_hashed` (no component). */
export const HASHED_HOST = 'hashed.localhost';

/** A Prosody for the bench, or null (logged) when it cannot start here. */
export async function startBenchProsody(): Promise<ProsodyInstance | null> {
  try {
    return await startProsody({
      components: [COMPONENT],
      pluginDir: pluginDirWithModule(),
      // Our module offers SCRAM beside PLAIN only where the operator says so (read per host, set globally here).
      extraConfig: 'xmpp_oauth_scram = { "SCRAM-SHA-1", "SCRAM-SHA-256" }',
      virtualHosts: [
        { host: 'localhost', options: { authentication: 'xmpp_oauth', xmpp_oauth_component: COMPONENT.domain, xmpp_oauth_timeout: 5 } },
        { host: HASHED_HOST, options: { authentication: 'internal_hashed' } },
      ],
    });
  } catch (err) {
    log(`XMPP scenarios skipped: Prosody did not start (${(err as Error).message.split('\n')[0]})`);
    return null;
  }
}

/** The server's `xmpp` section for a link to that Prosody. */
export const xmppSection = (prosody: ProsodyInstance) => ({
  enabled: true,
  service: `xmpp://127.0.0.1:${prosody.componentPort}`,
  domain: COMPONENT.domain,
  secret: COMPONENT.secret,
  hosts: ['localhost'],
});

/** Waits until the server's /readyz says its component link is online. */
export async function linkOnline(url: string): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ready = (await fetch(`${url}/readyz`).then((r) => r.json(), () => null)) as { xmpp?: { online?: boolean } } | null;
    if (ready?.xmpp?.online) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

export async function xmppLoginScenarios(prosody: ProsodyInstance, accessToken: string): Promise<Row[]> {
  const login = async () => {
    const s = await rawSasl({ port: prosody.c2sPort, domain: 'localhost' });
    try {
      return (await s.auth('PLAIN', `\0alice\0${accessToken}`)).name === 'success';
    } finally {
      s.close();
    }
  };
  if (!(await login())) {
    log('XMPP scenarios skipped: the first token login through Prosody failed');
    return [];
  }
  const seconds = Math.max(2, Math.round(DURATION * 0.6));
  return [
    await loop('Prosody 0.12 c2s login (SASL PLAIN, token; one auth query over the component link), 1 at a time', seconds, 1, login),
    await loop('Prosody 0.12 c2s login (SASL PLAIN, token; one auth query over the component link), 8 in flight', seconds, 8, login),
  ];
}

export interface PasswordLogins {
  rows: Row[];
  /** For ratioTable: each ratio of the mean throughputs, and each round's. */
  pairs: Array<{ label: string; ours: Row; theirs: Row; rounds: number[] }>;
}

/**
 * Password logins through Prosody: our module (SCRAM-SHA-1, SCRAM-SHA-256,
 * PLAIN with the password) against Prosody's own internal_hashed (SCRAM-SHA-1),
 * 1 and 16 at a time, one fresh c2s stream per login, ROUNDS alternated rounds
 * (each kind once per round, in turn). `user` is an account made through the
 * server (both verifiers, 10000 iterations, as internal_hashed writes).
 */
export async function xmppPasswordScenarios(prosody: ProsodyInstance, user = 'alice'): Promise<PasswordLogins> {
  try {
    prosodyctlRegister(prosody, user, HASHED_HOST, PASSWORD);
  } catch (err) {
    log(`internal_hashed account not made (${(err as Error).message.split('\n')[0]}); its scenario is skipped`);
  }
  const ours = { port: prosody.c2sPort, domain: 'localhost' };
  const hashed = { port: prosody.c2sPort, domain: HASHED_HOST };
  const plain = async () => {
    const s = await rawSasl(ours);
    try {
      return (await s.auth('PLAIN', `\0${user}\0${PASSWORD}`)).name === 'success';
    } finally {
      s.close();
    }
  };
  const kinds = [
    { key: 'hashed', label: `Prosody 0.12 c2s login, SCRAM-SHA-1, Prosody's own internal_hashed (no component)`, op: () => scramLogin(hashed, 'SCRAM-SHA-1', user, PASSWORD) },
    { key: 'sha1', label: 'Prosody 0.12 c2s login, SCRAM-SHA-1 through our module (one <scram/> query)', op: () => scramLogin(ours, 'SCRAM-SHA-1', user, PASSWORD) },
    { key: 'sha256', label: 'Prosody 0.12 c2s login, SCRAM-SHA-256 through our module (one <scram/> query)', op: () => scramLogin(ours, 'SCRAM-SHA-256', user, PASSWORD) },
    { key: 'plain', label: 'Prosody 0.12 c2s login, PLAIN with the password through our module (argon2id)', op: plain },
  ] as const;
  // A first login of each kind (and the PBKDF2 of each SCRAM hash, cached like a client's), so that no kind is measured broken.
  const working: Array<(typeof kinds)[number]> = [];
  for (const kind of kinds) {
    if (await kind.op().catch(() => false)) working.push(kind);
    else log(`XMPP password scenario skipped: the first login failed (${kind.label})`);
  }
  const seconds = Math.max(2, Math.round(DURATION * 0.6));
  const rows: Row[] = [];
  const pairs: PasswordLogins['pairs'] = [];
  for (const concurrency of [1, 16]) {
    const at = concurrency === 1 ? '1 at a time' : `${concurrency} in flight`;
    const rounds = new Map<string, Row[]>(working.map((k) => [k.key, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const kind of working) {
        log(`scenario: ${kind.label}, ${at}, round ${round}`);
        rounds.get(kind.key)!.push(await loop(`${kind.label}, ${at}`, seconds, concurrency, kind.op));
      }
    }
    const combined = new Map([...rounds].map(([key, r]) => [key, combine(r)]));
    rows.push(...combined.values());
    const ratio = (label: string, a: string, b: string) => {
      const ra = rounds.get(a);
      const rb = rounds.get(b);
      if (!ra || !rb) return;
      pairs.push({ label: `${label}, ${at}`, ours: combined.get(a)!, theirs: combined.get(b)!, rounds: ra.map((r, i) => r.rps / rb[i]!.rps) });
    };
    ratio('SCRAM-SHA-1, our module / internal_hashed', 'sha1', 'hashed');
    ratio('SCRAM-SHA-256, our module / internal_hashed SCRAM-SHA-1', 'sha256', 'hashed');
    ratio('PLAIN with the password, our module / internal_hashed SCRAM-SHA-1', 'plain', 'hashed');
    ratio('SCRAM-SHA-1, our module / PLAIN with the password, our module', 'sha1', 'plain');
    ratio('SCRAM-SHA-256, our module / PLAIN with the password, our module', 'sha256', 'plain');
  }
  return { rows, pairs };
}
