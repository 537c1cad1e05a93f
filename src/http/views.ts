import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import Handlebars from 'handlebars';
import { viewsDir } from '../util/paths.js';
import { StartupError } from '../util/startup-error.js';

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
  if (opts.templatePath) assertFolder(opts.templatePath);
  const dirs = [opts.templatePath, viewsDir].filter((d): d is string => Boolean(d && existsSync(d)));
  const find = (rel: string) => dirs.map((d) => join(d, rel)).find((p) => existsSync(p));

  const lang = opts.lang ?? 'en';
  const localeFile = find(join('locales', `${lang}.json`)) ?? find(join('locales', 'en.json'));
  const strings = localeFile ? (parsed(localeFile, (text) => JSON.parse(text)) as Record<string, string>) : {};

  // {{t "key" name=value}}: a translated string with {name} placeholders filled in (escaped).
  hbs.registerHelper('t', (key: string, options: Handlebars.HelperOptions) => {
    const template = strings[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (_m, name: string) => String(options.hash?.[name] ?? ''));
  });
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);

  const templates = new Map<string, Handlebars.TemplateDelegate>();
  for (const dir of [...dirs].reverse()) {
    for (const file of safeList(join(dir, 'partials'))) {
      if (file.endsWith('.hbs')) hbs.registerPartial(basename(file, '.hbs'), checkedTemplate(hbs, join(dir, 'partials', file)));
    }
    for (const file of safeList(dir)) {
      if (file.endsWith('.hbs')) templates.set(basename(file, '.hbs'), hbs.compile(checkedTemplate(hbs, join(dir, file))));
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

// An operator's mistake in template_path must stop start-up with its name,
// not surface as a 500 on the first page view.
function assertFolder(path: string): void {
  let folder = false;
  try {
    folder = statSync(path).isDirectory();
  } catch {
    // reported below
  }
  if (!folder) {
    throw new StartupError(
      `template_path ${path} is not a folder (${existsSync(path) ? 'it is a file' : 'no such file or folder'})`,
      'point template_path at a folder holding the templates to override, or remove it to use the built-in views',
    );
  }
}

/** Reads a file and parses it with `parse`; a failure names the file. */
function parsed<T>(file: string, parse: (text: string) => T): T {
  try {
    return parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new StartupError(`cannot use ${file}: ${(err as Error).message}`, 'fix or remove that file in template_path');
  }
}

/** A template's source, parsed once now so that a syntax error stops start-up. */
function checkedTemplate(hbs: typeof Handlebars, file: string): string {
  return parsed(file, (text) => {
    hbs.parse(text);
    return text;
  });
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
