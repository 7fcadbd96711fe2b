/**
 * `npm run bench -- <scenario> [args]`: runs one benchmark from bench/. Never part of `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;
const scenarios = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .map((file) => file.slice(0, -3))
  .sort();
const [scenario, ...args] = process.argv.slice(2);
if (!scenario || !existsSync(join(here, `${scenario}.ts`))) {
  console.error(`usage: npm run bench -- <scenario> [args]\nscenarios: ${scenarios.join(', ')}`);
  process.exit(2);
}
const result = spawnSync(process.execPath, [join(here, `${scenario}.ts`), ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
