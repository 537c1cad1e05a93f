// The soak's verdict depends on its accounting: these check the
// classification rules docs/reliability.md states, on hand-made ledgers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ledger } from '../../soak/ledger.js';
import { rng } from '../../soak/prng.js';
import { FAULT_KINDS, schedule } from '../../soak/faults.js';
import { buildReport } from '../../soak/report.js';

const T0 = 1_000_000;
const report = (ledger: Ledger) =>
  buildReport({ ledger, seed: 1, minutes: 1, startedAt: T0, endedAt: T0 + 60_000, samples: [], redisMemory: {}, generatorErrors: {}, instanceErrorLines: {} });

function lostChain(ledger: Ledger, lastWriteAt: number) {
  const c = ledger.newChain('u@localhost', 'code', 'a', 'r');
  c.createdAt = T0;
  c.rotations = [lastWriteAt];
  c.state = 'lost';
  c.endedAt = lastWriteAt + 5000;
  return c;
}

describe('issue 17: soak accounting', () => {
  it('issue 17 #lost: a chain whose last rotation was answered <1 s before a Redis SIGKILL is lost_in_fsync_window; one 1.5 s before is lost', () => {
    const ledger = new Ledger();
    ledger.redisKills.push(T0 + 20_000);
    lostChain(ledger, T0 + 19_400);
    lostChain(ledger, T0 + 18_500);
    const r = report(ledger);
    assert.equal(r.chains.lost_in_fsync_window.length, 1);
    assert.equal(r.verdict.lost, 1);
    assert.equal(r.pass, false);
  });

  it('issue 17 #lost: without a Redis SIGKILL every broken chain is lost', () => {
    const ledger = new Ledger();
    lostChain(ledger, T0 + 19_900);
    assert.equal(report(ledger).verdict.lost, 1);
  });

  it('issue 17 #resurrected: a revocation answered inside the fsync window is apart; one outside fails the run', () => {
    const ledger = new Ledger();
    ledger.redisKills.push(T0 + 20_000);
    ledger.resurrections.push({ chain: 1, how: 'refresh', at: T0 + 25_000, revokedAt: T0 + 19_500 });
    let r = report(ledger);
    assert.equal(r.verdict.resurrected, 0);
    assert.equal(r.resurrected_in_fsync_window.length, 1);
    ledger.resurrections.push({ chain: 2, how: 'introspection on a', at: T0 + 25_000, revokedAt: T0 + 10_000 });
    r = report(ledger);
    assert.equal(r.verdict.resurrected, 1);
    assert.equal(r.pass, false);
  });

  it('issue 17 #5xx: a 5xx inside an outage window is excused, one in a hostile-client window is not', () => {
    const ledger = new Ledger();
    ledger.windows.push({ kind: 'redis-sigkill', outage: true, start: T0 + 10_000, restored: T0 + 12_000, recovered: T0 + 13_000 });
    ledger.windows.push({ kind: 'slow-client', outage: false, start: T0 + 30_000, restored: T0 + 50_000, recovered: T0 + 50_100 });
    ledger.record({ kind: 'refresh', start: T0 + 12_500, end: T0 + 12_600, outcome: '5xx', status: 503 });
    assert.equal(report(ledger).verdict.failed_requests_outside_windows, 0);
    ledger.record({ kind: 'refresh', start: T0 + 40_000, end: T0 + 40_100, outcome: 'net-error' });
    assert.equal(report(ledger).verdict.failed_requests_outside_windows, 1);
  });

  it('issue 17 #faults: the schedule has every kind, is the same for the same seed, and fits the run', () => {
    const a = schedule(rng(42), 120_000);
    assert.deepEqual(a, schedule(rng(42), 120_000));
    assert.notDeepEqual(a, schedule(rng(43), 120_000));
    assert.deepEqual(new Set(a.map((p) => p.kind)), new Set(FAULT_KINDS));
    assert.ok(a.every((p) => p.at > 0 && p.at < 120_000));
  });
});
