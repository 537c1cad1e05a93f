import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { configReference } from '../../src/config/reference.js';

describe('README configuration reference', () => {
  it('is exactly the table generated from the schema', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme);
    assert.ok(m, 'README has the config-reference markers');
    assert.equal(m[1], configReference(), 'regenerate with: npm run docs:config');
  });
});
