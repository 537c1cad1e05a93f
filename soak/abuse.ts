// The two hostile-client faults: a slow client (slowloris-style: connections
// that send headers one byte at a time, bounded in number and length) and a
// burst of malformed input at every back-channel endpoint and page.
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ledger } from './ledger.js';
import type { Instance } from './instance.js';
import { post } from './load/http.js';

/** Holds `count` connections open for `durationMs`; returns how many the server closed by itself. */
export async function slowClient(instance: Instance, count: number, durationMs: number): Promise<{ opened: number; closedByServer: number }> {
  const sockets: Socket[] = [];
  let closedByServer = 0;
  let stopping = false;
  for (let i = 0; i < count; i++) {
    const s = connect(instance.port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => {
      if (!stopping) closedByServer++;
    });
    s.on('connect', () => s.write('POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n'));
    sockets.push(s);
  }
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    await sleep(2000);
    for (const s of sockets) if (!s.destroyed) s.write('X');
  }
  stopping = true;
  for (const s of sockets) s.destroy();
  return { opened: count, closedByServer };
}

const junk = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7919 + 13) % 256));

/** Malformed requests; every answer is recorded under kind 'malformed' (4xx expected, 5xx a defect). */
export async function malformedBurst(ledger: Ledger, instances: Instance[]): Promise<number> {
  let sent = 0;
  const forms: Array<[string, Record<string, string>, boolean]> = [
    ['/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'x'.repeat(5000) }, true],
    ['/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'rt_%%%%.....' }, true],
    ['/oauth2/token', { grant_type: 'authorization_code', code: '\u0000\uffff', redirect_uri: 'javascript:alert(1)', code_verifier: '' }, true],
    ['/oauth2/token', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: '../../etc/passwd', client_id: 'tv' }, false],
    ['/oauth2/token', { grant_type: 'password', username: 'a'.repeat(3000), password: '' }, true],
    ['/oauth2/token', { grant_type: 'nonsense' }, false],
    ['/oauth2/introspect', { token: 'eyJhbGciOiJub25lIn0.e30.' }, true],
    ['/oauth2/introspect', { token: '' }, true],
    ['/oauth2/revoke', { token: 'A'.repeat(10_000), token_type_hint: 'bogus' }, true],
    ['/oauth2/device', { client_id: 'tv', scope: 'openid '.repeat(500) }, false],
    ['/oauth2/device', { client_id: '\u202e' }, false],
  ];
  for (const instance of instances) {
    for (let round = 0; round < 3; round++) {
      for (const [path, form, auth] of forms) {
        await post(ledger, 'malformed', instance, path, form, { auth, expected: (a) => a.status >= 400 && a.status < 500 });
        sent++;
      }
      const raw: Array<[string, RequestInit]> = [
        ['/oauth2/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":' }],
        ['/oauth2/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: junk(4096) }],
        ['/oauth2/introspect', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic !!!!' }, body: 'token=a&token=b&token=c' }],
        ['/oauth2/authorize?client_id=webapp&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2F&code_challenge=%ZZ', { method: 'GET' }],
        ['/oauth2/authorize?' + 'a=b&'.repeat(2000), { method: 'GET' }],
        ['/oauth2/authorize', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=%E0%A4%A&password=&csrf=' }],
        ['/oauth2/device', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'xo_session=' + 'z'.repeat(3000) }, body: 'user_code=%00%00' }],
        ['/account/revoke', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'xo_session=forged.sig' }, body: 'grant=../../x' }],
        ['/oauth2/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"redirect_uris":[1,2,{"a":[[[[[[]]]]]]}]}' }],
        ['/oauth2/userinfo', { method: 'GET', headers: { authorization: 'Bearer ' + 'x'.repeat(8000) } }],
      ];
      for (const [path, init] of raw) {
        const start = Date.now();
        try {
          const res = await fetch(instance.url + path, { ...init, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
          await res.arrayBuffer();
          ledger.record({ kind: 'malformed', instance: instance.name, start, end: Date.now(), outcome: res.status >= 500 ? '5xx' : res.status >= 400 ? '4xx' : res.status >= 300 ? '3xx' : '2xx', status: res.status, detail: path.slice(0, 60) });
        } catch (err) {
          ledger.record({ kind: 'malformed', instance: instance.name, start, end: Date.now(), outcome: 'net-error', detail: (err as Error).message });
        }
        sent++;
      }
      // Raw bytes that are not HTTP at all: a 400 and a closed connection expected.
      const start = Date.now();
      const answer = await new Promise<string>((resolve) => {
        let got = '';
        const s = connect(instance.port, '127.0.0.1', () => s.write(junk(2000)));
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('error', () => resolve(got));
        s.on('close', () => resolve(got));
        s.setTimeout(3000, () => s.destroy());
      });
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      ledger.record({ kind: 'malformed', instance: instance.name, start, end: Date.now(), outcome: status ? (status >= 500 ? '5xx' : status >= 400 ? '4xx' : '2xx') : 'net-error', status: status || undefined, detail: 'raw non-HTTP bytes' });
      sent++;
    }
  }
  return sent;
}
