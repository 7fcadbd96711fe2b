/**
 * The JavaScript built at install (bin/build-js.ts) and its loader (bin/load-built.mjs), in a
 * scratch tree laid out like the repository: a module with a current built copy runs from it
 * without Node loading its type stripper; a source edited after the build runs from the source,
 * stripped by Node as before; line numbers in stack traces are those of the source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', 'bin');

const SOURCE = `/** a module with types */
interface Greeting {
  text: string;
}
export function greet(name: string): Greeting {
  return { text: \`hello \${name}\` };
}
export function where(): string {
  return new Error('here').stack!.split('\\n')[1]!;
}
`;

/** Runs src/greet.ts through the loader; says whether Node's type stripper (amaro) was loaded. */
async function load(root: string): Promise<{ text: string; where: string; stripperLoaded: boolean }> {
  const program = `const m = await import(${JSON.stringify(join(root, 'src', 'greet.ts'))});
console.log(JSON.stringify({ text: m.greet('you').text, where: m.where(), stripperLoaded: process.moduleLoadList.some((name) => name.includes('amaro')) }));`;
  const { stdout } = await run(process.execPath, ['--import', join(root, 'bin', 'load-built.mjs'), '--input-type=module', '--eval', program]);
  return JSON.parse(stdout);
}

test('modules run from their built copy while it is current, from the source once it is not', async () => {
  const root = await mkdtemp(join(tmpdir(), 'trellis-build-js-'));
  try {
    await mkdir(join(root, 'bin'));
    await mkdir(join(root, 'src'));
    await copyFile(join(BIN, 'build-js.ts'), join(root, 'bin', 'build-js.ts'));
    await copyFile(join(BIN, 'load-built.mjs'), join(root, 'bin', 'load-built.mjs'));
    await writeFile(join(root, 'src', 'greet.ts'), SOURCE);
    await writeFile(join(root, 'src', 'greet.test.ts'), 'throw new Error("tests are not built");\n');

    const built = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(root, 'bin', 'build-js.ts'), root]);
    assert.match(built.stdout, /^built 1 files/);
    const copy = await readFile(join(root, 'dist', 'src', 'greet.ts.js'), 'utf8');
    assert.doesNotMatch(copy, /interface|: string/);
    assert.equal(copy.split('\n').length, SOURCE.split('\n').length);

    const fromBuilt = await load(root);
    assert.deepEqual({ text: fromBuilt.text, stripperLoaded: fromBuilt.stripperLoaded }, { text: 'hello you', stripperLoaded: false });
    assert.match(fromBuilt.where, /greet\.ts:9:10\)?$/);

    // An edit after the build: the source is newer than its copy.
    const later = new Date(Date.now() + 60_000);
    await writeFile(join(root, 'src', 'greet.ts'), SOURCE.replace('hello', 'hi'));
    await utimes(join(root, 'src', 'greet.ts'), later, later);
    const fromSource = await load(root);
    assert.deepEqual({ text: fromSource.text, stripperLoaded: fromSource.stripperLoaded }, { text: 'hi you', stripperLoaded: true });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
