import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startRedis } from './test/helpers/redis.js';
import { freePort } from './test/helpers/ports.js';
import { writeConfig, cleanEnv, BIN, FORM, PASSWORD } from './bench/lib.js';
import { execFileSync } from 'node:child_process';
const path = process.argv[2] ?? 'discovery';
const redis = await startRedis();
const dir = mkdtempSync(join(tmpdir(), 'xo-prof-'));
const port = await freePort();
const cfg = writeConfig(dir, port, redis.url);
execFileSync(process.execPath, [BIN, 'user', 'add', 'alice@localhost', '--password-stdin', '--config', cfg], { input: PASSWORD + '\n', env: cleanEnv() });
const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=/tmp/prof-${path}`, BIN, 'serve', '--config', cfg], { env: { ...cleanEnv(), XO_DEBUG_LEAN: '1' }, stdio: 'inherit' });
const url = `http://127.0.0.1:${port}`;
for (;;) { try { if ((await fetch(url + '/healthz')).ok) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }
const t = await (await fetch(url + '/oauth2/token', { method: 'POST', headers: FORM, body: new URLSearchParams({ grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid offline_access xmpp' }) })).json() as any;
const opts: any = path === 'discovery' ? { method: 'GET', path: '/.well-known/openid-configuration' }
  : path === 'introspect' ? { method: 'POST', path: '/oauth2/introspect', headers: FORM, body: `token=${t.access_token}` }
  : { method: 'POST', path: '/oauth2/token', headers: { ...FORM, authorization: 'Basic ' + Buffer.from('bench:wrong').toString('base64') }, body: 'grant_type=refresh_token&refresh_token=x' };
const r = await autocannon({ url, connections: 16, duration: 6, requests: [opts] });
console.log(path, r.requests.average, r.non2xx);
child.kill('SIGTERM');
await new Promise((res) => child.once('exit', res));
await redis.stop();
