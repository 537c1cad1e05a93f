import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';

/** The package root (where package.json is), from src/ under tsx or dist/ when built. */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root');
    dir = up;
  }
  return dir;
})();

export const viewsDir = join(packageRoot, 'views');

/** name and version from package.json, read once at start-up (XEP-0092, `--version`). */
export const packageInfo: { name: string; version: string } = (() => {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { name?: string; version?: string };
  return { name: pkg.name ?? 'xmpp-oauth', version: pkg.version ?? '0.0.0' };
})();
