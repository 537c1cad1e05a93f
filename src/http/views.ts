import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import Handlebars from 'handlebars';
import { viewsDir } from '../util/paths.js';

export interface Views {
  render(name: string, data: Record<string, unknown>): string;
  /** Folders to serve /static from, operator's first. */
  staticDirs: string[];
}

/**
 * Handlebars views: one layout, partials, and a locale file of strings. An
 * operator's `template_path` may override any template, partial, locale or
 * static file by putting one of the same name there.
 */
export function loadViews(opts: { templatePath?: string; siteName: string; lang?: string }): Views {
  const hbs = Handlebars.create();
  const dirs = [opts.templatePath, viewsDir].filter((d): d is string => Boolean(d && existsSync(d)));
  const find = (rel: string) => dirs.map((d) => join(d, rel)).find((p) => existsSync(p));

  const lang = opts.lang ?? 'en';
  const localeFile = find(join('locales', `${lang}.json`)) ?? find(join('locales', 'en.json'));
  const strings = localeFile ? (JSON.parse(readFileSync(localeFile, 'utf8')) as Record<string, string>) : {};

  // {{t "key" name=value}}: a translated string with {name} placeholders filled in (escaped).
  hbs.registerHelper('t', (key: string, options: Handlebars.HelperOptions) => {
    const template = strings[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (_m, name: string) => String(options.hash?.[name] ?? ''));
  });
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);

  const templates = new Map<string, Handlebars.TemplateDelegate>();
  for (const dir of [...dirs].reverse()) {
    for (const file of safeList(join(dir, 'partials'))) {
      if (file.endsWith('.hbs')) hbs.registerPartial(basename(file, '.hbs'), readFileSync(join(dir, 'partials', file), 'utf8'));
    }
    for (const file of safeList(dir)) {
      if (file.endsWith('.hbs')) templates.set(basename(file, '.hbs'), hbs.compile(readFileSync(join(dir, file), 'utf8')));
    }
  }
  const layout = templates.get('layout');
  if (!layout) throw new Error(`no layout.hbs in ${dirs.join(' or ')}`);

  return {
    staticDirs: dirs.map((d) => join(d, 'static')).filter((d) => existsSync(d)),
    render(name, data) {
      const template = templates.get(name);
      if (!template) throw new Error(`no template ${name}.hbs`);
      const context = { siteName: opts.siteName, lang, ...data };
      return layout({ ...context, body: template(context) });
    },
  };
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
