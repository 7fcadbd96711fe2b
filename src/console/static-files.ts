/**
 * The console's pages, styles and scripts: the files of one directory in the repository
 * (web/console/), read once when the console starts, so that no request names a file path and
 * nothing outside the directory can be served. Plain HTML, CSS and JavaScript modules: there is
 * no build step (docs/decisions.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

export interface StaticFile {
  contentType: string;
  body: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const CONSOLE_FILES_DIR = join(import.meta.dirname, '..', '..', 'web', 'console');

/** The files of `dir` by name, of the kinds above; anything else there is left out. */
export function readStaticFiles(dir: string = CONSOLE_FILES_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const contentType = TYPES[extname(name)];
    if (contentType !== undefined) files.set(name, { contentType, body: readFileSync(join(dir, name)) });
  }
  return files;
}

/** A page with its placeholders ({{name}}) filled, each value escaped for HTML. */
export function fillPage(file: StaticFile, values: Record<string, string>): string {
  return file.body.toString('utf8').replace(/\{\{(\w+)\}\}/g, (whole, name: string) => (name in values ? escapeHtml(values[name]!) : whole));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
