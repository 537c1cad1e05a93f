// The XMPP path through a real Prosody 0.12 (test/helpers/prosody.ts, our Lua
// module from contrib/prosody/): c2s logins with SASL PLAIN and an access
// token as the password. Each login makes Prosody send one auth query to our
// component over the XEP-0114 link and wait for the answer, so logins/s is
// auth-query round trips/s through Prosody; the latency is the whole login
// (TCP connect, stream, SASL), as a client sees it.
import { pluginDirWithModule } from '../../test/helpers/prosody-module.js';
import { startProsody, type ProsodyInstance } from '../../test/helpers/prosody.js';
import { rawSasl } from '../../test/helpers/xmpp-client.js';
import { DURATION, log, loop, type Row } from '../lib.js';

export const COMPONENT = { domain: 'oauth.localhost', secret: 'bench-component-secret-0123456789' };

/** A Prosody for the bench, or null (logged) when it cannot start here. */
export async function startBenchProsody(): Promise<ProsodyInstance | null> {
  try {
    return await startProsody({
      components: [COMPONENT],
      pluginDir: pluginDirWithModule(),
      virtualHosts: [{ host: 'localhost', options: { authentication: 'xmpp_oauth', xmpp_oauth_component: COMPONENT.domain, xmpp_oauth_timeout: 5 } }],
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
