/**
 * Settings for the property-based tests (`*.fuzz.test.ts`, with fast-check). Under `npm test`
 * each property runs a few dozen times, so the whole set takes seconds; `npm run fuzz` sets
 * FUZZ_RUNS (and FUZZ_SEED to replay a run) and runs them long.
 */
import type { Parameters } from 'fast-check';

/** How many runs a property gets: `quick` under npm test, FUZZ_RUNS when set. */
export function fuzzRuns(quick: number): number {
  const runs = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(runs) && runs > 0 ? runs : quick;
}

/** fast-check parameters for one property; a failure reports the seed and path that replay it. */
export function fuzzParameters<T>(quick = 100): Parameters<T> {
  const seed = Number(process.env.FUZZ_SEED);
  return { numRuns: fuzzRuns(quick), ...(Number.isInteger(seed) ? { seed } : {}) };
}
