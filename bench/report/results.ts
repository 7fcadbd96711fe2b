/** Writes a scenario's results, with the machine they were measured on and whether clients used TLS, to bench/results/<scenario>-<date>.json (not committed). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchTls } from '../load/tls-mode.ts';

const RESULTS_DIR = join(import.meta.dirname, '..', 'results');

export function writeResults(scenario: string, data: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const date = new Date();
  const file = join(RESULTS_DIR, `${scenario}-${date.toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`);
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), kernel: release(), node: process.version };
  writeFileSync(file, JSON.stringify({ scenario, date: date.toISOString(), machine, tls: benchTls(), ...data }, null, 2) + '\n');
  return file;
}
