/**
 * `npm install` runs this (the `prepare` script): every source file of the server, src/**\/*.ts
 * without the tests, stripped of its types once into dist/src/**\/*.ts.js, which bin/trellis then
 * loads instead of stripping them at every start (bin/load-built.mjs). Node strips types with a
 * WebAssembly module that stays in memory for the life of the process, about 17 MB before the
 * first line of Trellis runs and more for every file it strips (docs/performance.md, "Memory at
 * start").
 *
 * Types are replaced by white space, so every line and column stays where it was in the source
 * and stack traces keep pointing at the .ts files. A source edited after the build is newer than
 * its built copy, and is stripped at start as before until the next build.
 *
 *   node bin/build-js.ts [ROOT]    (ROOT: the directory holding src/, by default this one's parent)
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative } from 'node:path';

const root = process.argv[2] ?? join(import.meta.dirname, '..');
const out = join(root, 'dist');
// Built aside and then put in place, so a server starting meanwhile finds dist/ whole or absent.
const next = `${out}.building-${process.pid}`;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

let bytes = 0;
const files = sources(join(root, 'src'));
for (const file of files) {
  const built = join(next, `${relative(root, file)}.js`);
  const code = stripTypeScriptTypes(readFileSync(file, 'utf8'), { mode: 'strip' });
  mkdirSync(dirname(built), { recursive: true });
  writeFileSync(built, code);
  bytes += code.length;
}
rmSync(out, { recursive: true, force: true });
renameSync(next, out);
process.stdout.write(`built ${files.length} files (${(bytes / 1024).toFixed(0)} KB) into ${relative(root, out)}/\n`);
