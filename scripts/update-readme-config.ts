// Rewrites the README's configuration table from the schema (npm run docs:config).
import { readFile, writeFile } from 'node:fs/promises';
import { configReference } from '../src/config/reference.js';

const file = new URL('../README.md', import.meta.url);
const readme = await readFile(file, 'utf8');
const updated = readme.replace(
  /<!-- config-reference:start -->\n[\s\S]*?<!-- config-reference:end -->/,
  `<!-- config-reference:start -->\n${configReference()}\n<!-- config-reference:end -->`,
);
await writeFile(file, updated);
