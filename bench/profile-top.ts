// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by
// package, the "top items" docs/performance.md quotes.
// Usage: node --import tsx bench/profile-top.ts FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
const [file, n = '15'] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.ts FILE.cpuprofile [N]');
const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
const byId = new Map(prof.nodes.map((node) => [node.id, node]));
const hits = new Map<number, number>();
for (const s of prof.samples) hits.set(s, (hits.get(s) ?? 0) + 1);

const pkg = (url: string) => {
  if (!url) return '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return url;
  const own = /\/(src|dist)\/(.*)$/.exec(url);
  return own ? `ours: ${own[2]}` : url;
};
const fn = new Map<string, number>();
const mod = new Map<string, number>();
let total = 0;
let idle = 0;
for (const [id, count] of hits) {
  const { callFrame: cf } = byId.get(id)!;
  total += count;
  if (cf.functionName === '(idle)') idle += count;
  const name = `${cf.functionName || '(anonymous)'} ${pkg(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
  fn.set(name, (fn.get(name) ?? 0) + count);
  if (cf.functionName !== '(idle)') mod.set(pkg(cf.url), (mod.get(pkg(cf.url)) ?? 0) + count);
}
const busy = total - idle;
const top = (m: Map<string, number>) =>
  [...m].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(n))
    .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)} %  ${k}`).join('\n');
process.stdout.write(`busy ${((100 * busy) / total).toFixed(0)} % of ${total} samples\n\nself time by function (share of busy):\n${top(fn)}\n\nby package/module:\n${top(mod)}\n`);
