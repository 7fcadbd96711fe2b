/**
 * Many domain pairs between two hosts, inside a network namespace with its own DNS
 * (test/support/lab):
 *
 *   npm run bench -- pairs [--samples 5] [--one-way-ms 25] [--domains 20] [--per-pair 10]
 *
 * Needs root (it creates the namespace and runs itself inside it). Two parts:
 * 1. What one more domain pair costs on a connection already open, per proof method
 *    (certificate, DANE and a DNSSEC-signed SRV record with the lab's signed zone, POSH with a
 *    local HTTPS server), against a new authenticated connection: time, round trips over a link
 *    delayed by --one-way-ms each way, and bytes (bench/pairs/authorization.ts).
 * 2. Throughput of --domains x --domains pairs, --per-pair messages each at once, over one
 *    connection and with s2s.multiplex off (a connection per pair), with s2s.rate at its default
 *    and raised (bench/pairs/throughput.ts).
 * Prints tables and writes JSON to bench/results/; docs/performance.md explains them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAB_RESOLVER_ADDRESS } from '../test/support/lab/dns.ts';
import { assertInsideLab, createLabNamespace } from '../test/support/lab/namespace.ts';
import { measureAuthorization, type PairCost } from './pairs/authorization.ts';
import { measureThroughput, type ThroughputResult } from './pairs/throughput.ts';
import { writeResults } from './report/results.ts';
import { spreadOf } from './report/stats.ts';
import { textTable } from './report/table.ts';

const INSIDE_LAB = 'TRELLIS_BENCH_INSIDE_LAB';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '5' },
    'one-way-ms': { type: 'string', default: '25' },
    domains: { type: 'string', default: '20' },
    'per-pair': { type: 'string', default: '10' },
  },
});
const params = { samples: Number(values.samples), oneWayMs: Number(values['one-way-ms']), domains: Number(values.domains), perPair: Number(values['per-pair']) };
if (!Number.isInteger(params.samples) || params.samples < 1 || params.samples > 20) fail('--samples is a count from 1 to 20');
if (!(params.oneWayMs >= 5 && params.oneWayMs <= 500)) fail('--one-way-ms is from 5 to 500');
if (!Number.isInteger(params.domains) || params.domains < 1 || params.domains > 40) fail('--domains is a count from 1 to 40');
if (!Number.isInteger(params.perPair) || params.perPair < 1 || params.perPair > 1000) fail('--per-pair is a count from 1 to 1000');

if (process.env[INSIDE_LAB] === undefined) process.exitCode = await runInsideNewLab();
else {
  assertInsideLab();
  try {
    await main();
  } catch (error) {
    process.stderr.write(`pairs benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  }
}

async function runInsideNewLab(): Promise<number> {
  if (process.getuid?.() !== 0) fail('the pairs benchmark needs root: it creates a network namespace with its own DNS');
  const lab = await createLabNamespace(LAB_RESOLVER_ADDRESS);
  try {
    const [command, ...args] = lab.exec(process.execPath, [import.meta.filename, ...process.argv.slice(2)]);
    const child = spawn(command!, args, { stdio: 'inherit', env: { ...process.env, [INSIDE_LAB]: lab.name } });
    return await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  } finally {
    await lab.destroy();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pairs-bench-'));
  try {
    const costs = await measureAuthorization(mkdtempSync(join(dir, 'authorization-')), params.samples, params.oneWayMs);
    const throughput: ThroughputResult[] = [];
    for (const s2sRate of ['default', 'raised'] as const) {
      for (const multiplex of [true, false]) {
        const run = await measureThroughput(mkdtempSync(join(dir, 'throughput-')), params.domains, params.perPair, multiplex, s2sRate);
        process.stderr.write(`pairs: multiplex ${multiplex ? 'on' : 'off'}, s2s.rate ${s2sRate}: ${Math.round(run.perSecond)} msg/s over ${run.connections} connections\n`);
        throughput.push(run);
      }
    }
    printReport(costs, throughput);
    process.stdout.write(`\nresults: ${writeResults('pairs', { params, costs, throughput })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function printReport(costs: PairCost[], throughput: ThroughputResult[]): void {
  const median = (values: number[]) => spreadOf(values).median;
  process.stdout.write(`\nOne more domain pair (median of ${params.samples}; round trips over a link of ${2 * params.oneWayMs} ms)\n`);
  process.stdout.write(
    textTable(
      ['method', 'recorded as', 'extra ms', 'round trips', 'bytes'],
      costs.map((cost) => [cost.method, cost.recorded, median(cost.extraMs).toFixed(0), median(cost.roundTrips).toFixed(1), String(Math.round(median(cost.bytes)))]),
    ) + '\n',
  );
  process.stdout.write(`\n${params.domains * params.domains} pairs, ${params.perPair} messages each at once\n`);
  process.stdout.write(
    textTable(
      ['multiplex', 's2s.rate', 'connections', 'messages', 'seconds', 'msg/s'],
      throughput.map((run) => [run.multiplex ? 'on' : 'off', run.s2sRate, String(run.connections), String(run.messages), run.seconds.toFixed(2), String(Math.round(run.perSecond))]),
    ) + '\n',
  );
}

function fail(message: string): never {
  process.stderr.write(`pairs: ${message}\n`);
  process.exit(2);
}
