// Everything the soak runs against, on loopback: redis-server with AOF
// everysec, a real Prosody 0.12 with our module, and two xmpp-oauth instances
// sharing that Redis, the cookie secrets and one signing key (signing_key_file),
// both attached to Prosody's single component slot (one active, one standby).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportPKCS8, generateKeyPair } from 'jose';
import { COMPONENT } from '../test/helpers/cam.js';
import { freePort } from '../test/helpers/ports.js';
import { pluginDirWithModule } from '../test/helpers/prosody-module.js';
import { startProsody, type ProsodyInstance } from '../test/helpers/prosody.js';
import { startRedis, type RedisInstance } from '../test/helpers/redis.js';
import { addUser, sharedConfig } from '../test/scale/instances.js';
import { secretHash } from '../test/helpers/server.js';
import { Instance } from './instance.js';
import { RESOURCE_SERVER } from './load/http.js';

export const DOMAIN = 'localhost';
/** Accounts under load: with two clients each, at most 2 × USERS live chains. */
export const USERS = 10;

export interface Topology {
  redis: RedisInstance;
  prosody: ProsodyInstance;
  instances: [Instance, Instance];
  /** The accounts the load uses (one grant per account and client: a chain each). */
  users: string[];
  /** The probe's account, which the load never touches. */
  probeUser: string;
  /** The instance holding the component slot now (undefined while none does). */
  active(): Promise<Instance | undefined>;
  xmppTarget(): { port: number; domain: string };
  stop(): Promise<void>;
}

export async function startTopology(outDir: string): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'xo-soak-'));
  const redis = await startRedis({ persist: true, appendfsync: 'everysec' });
  const pluginDir = pluginDirWithModule();
  const prosody = await startProsody({
    components: [COMPONENT],
    pluginDir,
    virtualHosts: [{ host: DOMAIN, options: { authentication: 'xmpp_oauth', xmpp_oauth_component: COMPONENT.domain, xmpp_oauth_timeout: 5 } }],
  });

  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const keyFile = join(dir, 'signing-key.pem');
  writeFileSync(keyFile, await exportPKCS8(privateKey), { mode: 0o600 });

  const instances = [] as unknown as [Instance, Instance];
  for (const name of ['a', 'b']) {
    const port = await freePort();
    const config = sharedConfig({ url: redis.url }, port, {
      signing_key_file: keyFile,
      xmpp: { enabled: true, service: `xmpp://127.0.0.1:${prosody.componentPort}`, domain: COMPONENT.domain, secret: COMPONENT.secret, hosts: [DOMAIN] },
      // The soak sends all its traffic, good and bad, from 127.0.0.1 as one
      // client: the throttles are tested elsewhere and would only refuse it here.
      resource_servers: [{ id: RESOURCE_SERVER.id, secret_hash: secretHash(RESOURCE_SERVER.secret) }],
      login_throttle: { per_account: 1_000_000, per_address: 1_000_000 },
      token_throttle: { per_client: 1_000_000, failed_auth: 1_000_000 },
      address_throttle: { registrations: 1_000_000, device_authorizations: 1_000_000 },
    });
    const configFile = join(dir, `instance-${name}.yaml`);
    writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
    instances.push(new Instance(name, port, configFile, join(outDir, `instance-${name}.log`)));
  }
  const users = Array.from({ length: USERS }, (_, i) => `user${i + 1}@${DOMAIN}`);
  const probeUser = `probe@${DOMAIN}`;
  await Promise.all([probeUser, ...users].map((u) => addUser(instances[0].configFileForCli(), u)));
  for (const i of instances) await i.start();

  const active = async () => {
    for (const i of instances) if (i.running && (await i.ready()).xmppOnline) return i;
    return undefined;
  };
  const deadline = Date.now() + 30_000;
  while (!(await active()) && Date.now() < deadline) await sleep(200);
  if (!(await active())) throw new Error('no instance attached to Prosody within 30 s');

  return {
    redis,
    prosody,
    instances,
    users,
    probeUser,
    active,
    xmppTarget: () => ({ port: prosody.c2sPort, domain: DOMAIN }),
    async stop() {
      for (const i of instances) await i.stop();
      await prosody.stop();
      await redis.stop();
      rmSync(pluginDir, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
