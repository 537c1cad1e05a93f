#!/usr/bin/env node
// Launcher: runs the compiled CLI. `npm install` builds dist/ (the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('xmpp-oauth: not built yet; run `npm run build` (npm install does it) first\n');
  process.exit(2);
}
await import(main);
