/**
 * `npm run fuzz [-- RUNS] [files...]`: the property-based tests (`src/**\/*.fuzz.test.ts`) run
 * long. Each property gets RUNS cases (default 200000) instead of the few dozen `npm test`
 * gives it. A failure prints fast-check's seed and path; `FUZZ_SEED=<seed>` replays it.
 */
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const runs = args[0] !== undefined && /^\d+$/.test(args[0]) ? args.shift()! : (process.env.FUZZ_RUNS ?? '200000');
const files = args.length > 0 ? args : ['src/**/*.fuzz.test.ts'];
console.log(`fuzzing with ${runs} runs per property: ${files.join(' ')}`);
const result = spawnSync(process.execPath, ['--test', '--test-timeout=0', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_RUNS: runs },
});
process.exit(result.status ?? 1);
