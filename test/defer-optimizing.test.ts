/**
 * bin/defer-optimizing.mjs, which bin/trellis preloads: V8's optimizing compilers stay off until
 * the program resumes them (src/util/optimizing-compilers.ts), then hot code is optimized as
 * usual; a command line that chooses the compilers itself is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PRELOAD = join(import.meta.dirname, '..', 'bin', 'defer-optimizing.mjs');

const PROGRAM = `
const resume = process[Symbol.for('trellis.resumeOptimizingCompilers')];
function hot(n) { let sum = 0; for (let i = 0; i < n; i++) sum += i % 7; return sum; }
for (let i = 0; i < 3000; i++) hot(1000);
console.log('resume ' + typeof resume);
resume?.();
for (let i = 0; i < 3000; i++) hot(1000);
`;

/** The --trace-opt lines about `hot`, before and after the program resumed the compilers. */
async function optimizations(extra: string[]): Promise<{ resume: string; before: string[]; after: string[] }> {
  const { stdout } = await run(process.execPath, [...extra, '--trace-opt', '--import', PRELOAD, '--input-type=module', '--eval', PROGRAM]);
  const lines = stdout.split('\n');
  const at = lines.findIndex((line) => line.startsWith('resume '));
  const optimized = (part: string[]) => part.filter((line) => /completed (compiling|optimizing).*JSFunction hot /.test(line));
  return { resume: lines[at]!, before: optimized(lines.slice(0, at)), after: optimized(lines.slice(at + 1)) };
}

test('the compilers stay off until resumed, then hot code is optimized', async () => {
  const { resume, before, after } = await optimizations([]);
  assert.equal(resume, 'resume function');
  assert.deepEqual(before, []);
  assert.ok(after.some((line) => /TURBOFAN|MAGLEV/.test(line)), after.join('\n'));
});

test('a command line that chooses the compilers is left as it is', async () => {
  const { resume, before } = await optimizations(['--maglev']);
  assert.equal(resume, 'resume undefined');
  assert.ok(before.some((line) => /MAGLEV|TURBOFAN/.test(line)), before.join('\n'));
});
