// Turns the ledger into the report: counts, classifications against the fault
// windows and the AOF fsync window, recovery times, resource figures; and the
// verdict (the exit status).
import type { Ledger } from './ledger.js';
import type { Sample } from './metrics.js';

/** What AOF `appendfsync everysec` promises: a crash loses at most one second of acknowledged writes. */
export const AOF_WINDOW_MS = 1000;
/** A process may not grow more than this from its first warm sample to its last. */
export const RSS_BOUND_MB = Number(process.env.SOAK_RSS_BOUND_MB ?? 100);
/** A process is warm this long after it started. */
export const WARM_MS = 30_000;

export interface ReportInput {
  ledger: Ledger;
  seed: number;
  minutes: number;
  startedAt: number;
  endedAt: number;
  samples: Sample[];
  redisMemory: { start?: number; end?: number };
  generatorErrors: Record<string, number>;
  instanceErrorLines: Record<string, number>;
}

const mb = (b?: number) => (b === undefined ? undefined : Math.round((b / 1048576) * 10) / 10);
const pct = (xs: number[], p: number) => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

export function buildReport(input: ReportInput) {
  const { ledger } = input;
  const inFsyncWindow = (t: number) => ledger.redisKills.some((k) => t >= k - AOF_WINDOW_MS && t <= k + 50);

  const byOutcome: Record<string, Record<string, number>> = {};
  for (const r of ledger.requests) {
    const row = (byOutcome[r.kind] ??= {});
    row[r.outcome] = (row[r.outcome] ?? 0) + 1;
  }
  const failedOutside = ledger.requests.filter((r) => (r.outcome === '5xx' || r.outcome === 'net-error') && r.kind !== 'malformed' && !ledger.inWindow(r.start, r.end));
  const failedInside = ledger.requests.filter((r) => (r.outcome === '5xx' || r.outcome === 'net-error') && r.kind !== 'malformed' && ledger.inWindow(r.start, r.end));
  const malformed5xx = ledger.requests.filter((r) => r.kind === 'malformed' && r.outcome === '5xx');
  const unexpectedLogin = ledger.requests.filter((r) => r.kind.startsWith('xmpp:') && r.expected === false && !ledger.inWindow(r.start, r.end));

  const lostChains = ledger.chains.filter((c) => c.state === 'lost');
  const lastWrite = (c: (typeof lostChains)[number]) => Math.max(c.createdAt, ...c.rotations);
  const lostInFsync = lostChains.filter((c) => inFsyncWindow(lastWrite(c)));
  const lost = lostChains.filter((c) => !inFsyncWindow(lastWrite(c)));
  const resurrectedInFsync = ledger.resurrections.filter((r) => inFsyncWindow(r.revokedAt));
  const resurrected = ledger.resurrections.filter((r) => !inFsyncWindow(r.revokedAt));
  const refusedOutside = ledger.refusals.filter((r) => !ledger.inWindow(r.start, r.end));

  const faults = ledger.windows.map((w) => ({
    kind: w.kind,
    at_s: Math.round((w.start - input.startedAt) / 100) / 10,
    outage_ms: w.restored === undefined ? undefined : w.restored - w.start,
    recovered_after_restore_ms: w.recovered === undefined || w.restored === undefined ? undefined : w.recovered - w.restored,
    window_ms: w.recovered === undefined ? undefined : w.recovered - w.start,
    failed_requests_in_window: [...failedInside, ...failedOutside].filter((r) => r.start <= (w.recovered ?? input.endedAt) && r.end >= w.start).length,
    detail: w.detail,
  }));
  const unrecovered = ledger.windows.filter((w) => w.recovered === undefined);

  const resources: Record<string, unknown> = {};
  const rssViolations: string[] = [];
  for (const name of [...new Set(input.samples.map((s) => s.instance))]) {
    const mine = input.samples.filter((s) => s.instance === name);
    const incarnations = [...new Set(mine.map((s) => s.incarnation))].map((inc) => {
      const ss = mine.filter((s) => s.incarnation === inc && s.rssBytes !== undefined);
      const born = ss[0]?.at ?? 0;
      const warm = ss.find((s) => s.at - born >= WARM_MS);
      const after = warm ? ss.filter((s) => s.at >= warm.at) : [];
      const judged = after.length >= 3 && after[after.length - 1]!.at - warm!.at >= WARM_MS;
      const growth = judged ? Math.max(...after.map((s) => s.rssBytes!)) - warm!.rssBytes! : undefined;
      if (growth !== undefined && growth > RSS_BOUND_MB * 1048576) rssViolations.push(`${name}#${inc}: +${mb(growth)} MiB`);
      return {
        incarnation: inc,
        samples: ss.length,
        rss_mb_first: mb(ss[0]?.rssBytes),
        rss_mb_warm: mb(warm?.rssBytes),
        rss_mb_max: mb(Math.max(...ss.map((s) => s.rssBytes!))),
        rss_mb_last: mb(ss[ss.length - 1]?.rssBytes),
        rss_growth_once_warm_mb: mb(growth),
      };
    });
    const lags = mine.map((s) => s.eventLoopP99Ms).filter((x): x is number => x !== undefined);
    resources[name] = {
      incarnations,
      eventloop_p99_ms: { median: pct(lags, 50), max: lags.length ? Math.round(Math.max(...lags) * 10) / 10 : undefined },
      over_time: mine.map((s) => ({ t_s: Math.round((s.at - input.startedAt) / 1000), inc: s.incarnation, rss_mb: mb(s.rssBytes), eventloop_p99_ms: s.eventLoopP99Ms === undefined ? undefined : Math.round(s.eventLoopP99Ms * 10) / 10 })),
    };
  }

  const verdict = {
    lost: lost.length,
    resurrected: resurrected.length,
    failed_requests_outside_windows: failedOutside.length,
    malformed_5xx: malformed5xx.length,
    unrecovered_faults: unrecovered.length,
    rss_over_bound: rssViolations,
  };
  const pass = lost.length === 0 && resurrected.length === 0 && failedOutside.length === 0 && malformed5xx.length === 0 && unrecovered.length === 0 && rssViolations.length === 0;

  return {
    pass,
    seed: input.seed,
    minutes: input.minutes,
    started: new Date(input.startedAt).toISOString(),
    duration_s: Math.round((input.endedAt - input.startedAt) / 1000),
    verdict,
    requests_total: ledger.requests.length,
    requests_by_outcome: byOutcome,
    chains: {
      total: ledger.chains.length,
      rotations: ledger.chains.reduce((n, c) => n + c.rotations.length, 0),
      live_at_end: ledger.chains.filter((c) => c.state === 'live').length,
      revoked: ledger.chains.filter((c) => c.state === 'revoked').length,
      ended_by_replay_test: ledger.chains.filter((c) => c.state === 'replayed').length,
      lost: lost.map((c) => ({ chain: c.id, origin: c.origin, detail: c.lostDetail, lost_at_s: Math.round(((c.endedAt ?? 0) - input.startedAt) / 1000), last_write_s: Math.round((lastWrite(c) - input.startedAt) / 1000) })),
      lost_in_fsync_window: lostInFsync.map((c) => ({ chain: c.id, last_write_before_kill_ms: Math.min(...ledger.redisKills.map((k) => k - lastWrite(c)).filter((d) => d >= -50)) })),
    },
    resurrected: resurrected,
    resurrected_in_fsync_window: resurrectedInFsync,
    failed_requests_outside_windows: failedOutside.slice(0, 50).map((r) => ({ kind: r.kind, instance: r.instance, t_s: Math.round((r.start - input.startedAt) / 100) / 10, outcome: r.outcome, status: r.status, detail: r.detail })),
    failed_requests_in_windows: failedInside.length,
    malformed_5xx: malformed5xx.slice(0, 20).map((r) => ({ instance: r.instance, status: r.status, detail: r.detail })),
    malformed_answers: (() => {
      const m = ledger.requests.filter((r) => r.kind === 'malformed');
      const by: Record<string, number> = {};
      for (const r of m) by[`${r.status ?? r.outcome} ${(r.detail ?? '').slice(0, 70)}`] = (by[`${r.status ?? r.outcome} ${(r.detail ?? '').slice(0, 70)}`] ?? 0) + 1;
      return { by_status_and_path: by, slowest_ms: Math.max(0, ...m.map((r) => r.end - r.start)) };
    })(),
    refused_that_should_have_succeeded: {
      outside_windows: refusedOutside.length,
      inside_windows: ledger.refusals.length - refusedOutside.length,
      outside_by_kind: refusedOutside.reduce<Record<string, number>>((m, r) => ((m[r.kind] = (m[r.kind] ?? 0) + 1), m), {}),
      unexpected_login_outcomes_outside_windows: unexpectedLogin.length,
      outside: refusedOutside.slice(0, 20).map((r) => ({ kind: r.kind, t_s: Math.round((r.start - input.startedAt) / 100) / 10, ms: r.end - r.start, chain: r.chain, outcome: r.outcome, detail: r.detail })),
    },
    faults,
    resources,
    redis_used_memory_mb: { start: mb(input.redisMemory.start), end: mb(input.redisMemory.end) },
    generator_errors: input.generatorErrors,
    instance_error_log_lines: input.instanceErrorLines,
  };
}

export type Report = ReturnType<typeof buildReport>;

export function printReport(r: Report): string {
  const lines: string[] = [];
  lines.push(`soak: ${r.pass ? 'PASS' : 'FAIL'}  seed=${r.seed}  ${r.duration_s} s  requests=${r.requests_total}`);
  lines.push(`lost: ${r.verdict.lost}  lost_in_fsync_window: ${r.chains.lost_in_fsync_window.length}  resurrected: ${r.verdict.resurrected}  resurrected_in_fsync_window: ${r.resurrected_in_fsync_window.length}`);
  lines.push(`5xx/network errors outside fault windows: ${r.verdict.failed_requests_outside_windows}  (inside windows: ${r.failed_requests_in_windows})  malformed answered 5xx: ${r.verdict.malformed_5xx}`);
  lines.push(`refused that should have succeeded: outside windows ${r.refused_that_should_have_succeeded.outside_windows}, inside ${r.refused_that_should_have_succeeded.inside_windows}`);
  for (const x of r.refused_that_should_have_succeeded.outside) lines.push(`  ${JSON.stringify(x)}`);
  lines.push(`chains: ${r.chains.total} (rotations ${r.chains.rotations}, revoked ${r.chains.revoked}, replay-tested ${r.chains.ended_by_replay_test}, live at end ${r.chains.live_at_end})`);
  lines.push('requests by outcome:');
  for (const [kind, row] of Object.entries(r.requests_by_outcome).sort()) lines.push(`  ${kind.padEnd(22)} ${Object.entries(row).map(([o, n]) => `${o}=${n}`).join(' ')}`);
  lines.push('faults (outage = fault until the part is back; window = fault until the first successful probe):');
  for (const f of r.faults) lines.push(`  ${String(f.at_s).padStart(6)} s  ${f.kind.padEnd(17)} outage ${f.outage_ms ?? '-'} ms, recovered ${f.recovered_after_restore_ms ?? 'NEVER'} ms later, window ${f.window_ms ?? '-'} ms, failed requests in it ${f.failed_requests_in_window}${f.detail ? `  (${f.detail})` : ''}`);
  lines.push('instances:');
  for (const [name, res] of Object.entries(r.resources) as Array<[string, { incarnations: Array<Record<string, unknown>>; eventloop_p99_ms: Record<string, unknown> }]>) {
    lines.push(`  ${name}: event-loop p99 median ${res.eventloop_p99_ms.median ?? '-'} ms, max ${res.eventloop_p99_ms.max ?? '-'} ms`);
    for (const inc of res.incarnations) lines.push(`     process #${inc.incarnation}: RSS first ${inc.rss_mb_first} MiB, warm ${inc.rss_mb_warm ?? '-'}, max ${inc.rss_mb_max}, last ${inc.rss_mb_last}, growth once warm ${inc.rss_growth_once_warm_mb ?? 'not judged (too short)'} MiB`);
  }
  lines.push(`redis used_memory: start ${r.redis_used_memory_mb.start} MiB, end ${r.redis_used_memory_mb.end} MiB`);
  if (Object.keys(r.generator_errors).length) {
    lines.push('load generator steps that failed (counted in the requests above where they reached a server):');
    for (const [k, n] of Object.entries(r.generator_errors)) lines.push(`  ${n} × ${k}`);
  }
  lines.push(`error-level log lines: ${JSON.stringify(r.instance_error_log_lines)}`);
  if (!r.pass) lines.push(`verdict: ${JSON.stringify(r.verdict)}`);
  return lines.join('\n');
}
