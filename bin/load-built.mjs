/**
 * Loaded by bin/trellis with `--import`: serves each src/**\/*.ts module from its copy built at
 * install (dist/src/**\/*.ts.js, bin/build-js.ts) when that copy is at least as new as the
 * source, so Node never loads its type stripper. The module keeps its .ts URL, so import.meta.url,
 * relative paths and stack traces are those of the sources. A source without a current copy is
 * left to Node, which strips its types as it always does.
 *
 * Plain JavaScript on purpose: a .ts file here would load the type stripper this avoids.
 */
import { readFileSync, statSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(import.meta.dirname, '..');
const sourcePrefix = `${join(root, 'src')}/`;

/** The built copy of a source file, when there is one at least as new as the source. */
function builtSource(file) {
  const built = join(root, 'dist', `${file.slice(root.length + 1)}.js`);
  try {
    if (statSync(built).mtimeMs < statSync(file).mtimeMs) return undefined;
    return readFileSync(built, 'utf8');
  } catch {
    return undefined; // not built, or dist/ being rebuilt now: Node strips the source
  }
}

registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:') && url.endsWith('.ts')) {
      const file = fileURLToPath(url);
      if (file.startsWith(sourcePrefix)) {
        const source = builtSource(file);
        if (source !== undefined) return { format: 'module', source, shortCircuit: true };
      }
    }
    return nextLoad(url, context);
  },
});
