/**
 * bin/trellis starts Node with V8's baseline and optimizing compilers off and preloads
 * bin/defer-optimizing.mjs: they stay off until the program resumes them
 * (src/util/optimizing-compilers.ts), then hot code is compiled and optimized as usual; options
 * that choose a compiler themselves are left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const PRELOAD = join(ROOT, 'bin', 'defer-optimizing.mjs');
const DEFERRED = ['--no-maglev', '--no-turbofan', '--no-sparkplug'];

const PROGRAM = `
const resume = process[Symbol.for('trellis.resumeOptimizingCompilers')];
function hot(n) { let sum = 0; for (let i = 0; i < n; i++) sum += i % 7; return sum; }
for (let i = 0; i < 3000; i++) hot(1000);
console.log('resume ' + typeof resume);
resume?.();
for (let i = 0; i < 3000; i++) hot(1000);
`;

/** The --trace-opt and baseline lines about `hot`, before and after the program resumed the compilers. */
async function compilations(): Promise<{ resume: string; before: string[]; after: string[] }> {
  const { stdout } = await run(process.execPath, [
    ...DEFERRED, '--trace-opt', '--trace-baseline-batch-compilation', '--import', PRELOAD, '--input-type=module', '--eval', PROGRAM,
  ]);
  const lines = stdout.split('\n');
  const at = lines.findIndex((line) => line.startsWith('resume '));
  const compiled = (part: string[]) => part.filter((line) => /(completed (compiling|optimizing)|Baseline batch compilation\] Enqueued SFI) .*hot/.test(line));
  return { resume: lines[at]!, before: compiled(lines.slice(0, at)), after: compiled(lines.slice(at + 1)) };
}

test('the compilers stay off until resumed, then hot code is compiled and optimized', async () => {
  const { resume, before, after } = await compilations();
  assert.equal(resume, 'resume function');
  assert.deepEqual(before, []);
  assert.ok(after.some((line) => /TURBOFAN|MAGLEV/.test(line)), after.join('\n'));
  assert.ok(after.some((line) => /Baseline/.test(line)), after.join('\n'));
});

/** The Node options bin/trellis started `trellis --help` with, given TRELLIS_NODE_OPTIONS. */
async function launchOptions(extra: string): Promise<string[]> {
  const show = '--import=data:text/javascript,console.log(JSON.stringify(process.execArgv))';
  const { stdout } = await run(join(ROOT, 'bin', 'trellis'), ['--help'], { env: { ...process.env, NODE_OPTIONS: '', TRELLIS_NODE_OPTIONS: `${extra} ${show}` } });
  return JSON.parse(stdout.split('\n')[0]!) as string[];
}

test('bin/trellis defers the compilers unless its options choose one', async () => {
  const plain = await launchOptions('');
  for (const option of DEFERRED) assert.ok(plain.includes(option), plain.join(' '));
  assert.ok(plain.includes(PRELOAD), plain.join(' '));

  for (const choice of ['--maglev', '--no-opt', '--sparkplug']) {
    const chosen = await launchOptions(choice);
    assert.ok(chosen.includes(choice), chosen.join(' '));
    for (const option of DEFERRED) assert.ok(!chosen.includes(option), `${choice}: ${chosen.join(' ')}`);
    assert.ok(!chosen.includes(PRELOAD), chosen.join(' '));
  }

  const unrelated = await launchOptions('--optimize-for-size');
  assert.ok(unrelated.includes('--no-maglev'), unrelated.join(' '));
});

test('bin/trellis sizes the heap for a server, and a later option of its caller wins', async () => {
  const plain = await launchOptions('');
  for (const option of ['--max-semi-space-size=16', '--heap-growing-percent=50']) assert.ok(plain.includes(option), plain.join(' '));
  const chosen = await launchOptions('--heap-growing-percent=0');
  assert.ok(chosen.indexOf('--heap-growing-percent=0') > chosen.indexOf('--heap-growing-percent=50'), chosen.join(' '));
});
