// The docs are read in a clone: every relative link must land inside the
// repository, and the architecture map must name files that exist.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Targets of Markdown links `[text](target)` that are not URLs or anchors. */
function relativeLinks(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!.split('#')[0]!;
    if (target === '' || /^[a-z]+:/i.test(target) || target.startsWith('/')) continue;
    out.push(target);
  }
  return out;
}

describe('review #12: docs stand on their own in a clone', () => {
  it('review #12: every relative link in README.md and docs/ resolves to a file inside the repository', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      for (const target of relativeLinks(readFileSync(join(ROOT, doc), 'utf8'))) {
        const path = resolve(ROOT, dirname(doc), target);
        const inside = !relative(ROOT, path).startsWith('..');
        if (!inside || !existsSync(path)) broken.push(`${doc}: ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('review #12: docs/architecture.md exists, README links it, and every src/contrib path it names exists', () => {
    const map = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
    assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /\]\(docs\/architecture\.md\)/);
    const paths = new Set([...map.matchAll(/`((?:src|contrib|test|views|bin|examples)\/[^`\s]*)`/g)].map((m) => m[1]!));
    assert.ok(paths.size >= 20, `names the code it maps (${paths.size})`);
    const missing = [...paths].filter((p) => !existsSync(join(ROOT, p)));
    assert.deepEqual(missing, []);
    // The Prosody module's files the table names are the module's.
    const moduleDir = join(ROOT, 'contrib', 'prosody', 'mod_auth_xmpp_oauth');
    const named = [...map.matchAll(/`([a-z_0-9]+(?:\.lib)?\.lua)`/g)].map((m) => m[1]!);
    assert.ok(named.length >= 8, 'the module table');
    assert.deepEqual(named.filter((f) => !existsSync(join(moduleDir, f))), []);
  });

  it('review #12: no doc presents our Prosody module as 0.12-only or sends Prosody 13 users to mod_auth_oauth_external', () => {
    const files = [...DOCS, 'prosody-example.cfg.lua', 'contrib/prosody/xmpp-oauth.example.yml'];
    const steering = [
      /Prosody 13(?:'s)? (?:\+ |with )?`mod_auth_oauth_external`/,
      /Prosody 13: `mod_auth_oauth_external`/,
      /(?:Written|only) for (?:and tested with )?Prosody 0\.12/,
      /\*\*Prosody 0\.12\*\*: `contrib\/prosody\/mod_auth_xmpp_oauth/,
      /^-- Prosody 0\.12 configuration example/m,
    ];
    const found = files.flatMap((f) => steering.filter((re) => re.test(readFileSync(join(ROOT, f), 'utf8'))).map((re) => `${f}: ${re}`));
    assert.deepEqual(found, []);
  });
});
