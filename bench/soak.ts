/**
 * Soak: Trellis alone for a long run at half of its measured capacity, with clients coming and
 * going, to show that memory stays flat and nothing is lost.
 *
 *   npm run bench -- soak [--minutes 60] [--settle 5] [--rate N] [--clients 100] [--churn 5] [--tls]
 *                         [--generators 1] [--sample 10] [--quiet-wait 120]
 *
 * Without --rate, a first fresh server measures capacity (closed-loop messaging, window 10, as
 * in the messaging scenario, 20 s) and the soak offers half of it. Then a second fresh server
 * carries, for --minutes: --clients clients messaging in a ring at the fixed rate (open loop,
 * bench/load/messaging-traffic.ts), and --churn clients per second that log in, send a message to
 * themselves, wait for it and leave (bench/load/churn.ts). The server's resident memory is read
 * every --sample seconds. The run passes when the memory at the end is within 10% of its value
 * after the first --settle minutes, no client saw an error, and every message sent was received.
 * Figures and the command used: docs/performance.md "Soak".
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { runChurn, type ChurnTotals } from './load/churn.ts';
import { GeneratorPool } from './load/generators.ts';
import { LatencyHistogram } from './load/histogram.ts';
import { measureMessagingRun } from './load/messaging-run.ts';
import { BENCH_TLS_ENV, clientTransport } from './load/tls-mode.ts';
import { writeResults } from './report/results.ts';
import { fixed, textTable } from './report/table.ts';
import { readProcSnapshot } from './servers/proc-stats.ts';
import { SERVERS } from './servers/registry.ts';
import { stopEverything, stopServersOnInterrupt, withServer } from './servers/server-runs.ts';

const DOMAIN = 'bench.local';
const PASSWORD = 'bench-password';
/** the end may differ from the reference by at most this share */
const MEMORY_TOLERANCE = 0.1;
/** accounts the churning clients share, each with a fresh resource per login */
const CHURN_ACCOUNTS = 50;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    // memory after the first minutes is the reference the end is compared to
    settle: { type: 'string', default: '5' },
    rate: { type: 'string' },
    clients: { type: 'string', default: '100' },
    churn: { type: 'string', default: '5' },
    tls: { type: 'boolean', default: false },
    generators: { type: 'string', default: '1' },
    sample: { type: 'string', default: '10' },
    address: { type: 'string', default: '127.0.0.21' },
    'quiet-wait': { type: 'string', default: '120' },
  },
});

const params = {
  minutes: Number(values.minutes),
  settleMinutes: Number(values.settle),
  rate: values.rate === undefined ? undefined : Number(values.rate),
  clients: Number(values.clients),
  churnPerSecond: Number(values.churn),
  tls: values.tls,
  generators: Number(values.generators),
  sampleSeconds: Number(values.sample),
  address: values.address,
  quietWaitSeconds: Number(values['quiet-wait']),
};
if (!(params.settleMinutes > 0) || !(params.minutes > params.settleMinutes)) fail('--minutes must be more than the --settle minutes memory settles in');
if (params.rate !== undefined && !(params.rate > 0)) fail('--rate is messages per second');
if (!Number.isInteger(params.clients) || params.clients < 2 * params.generators) fail('--clients must be at least 2 per generator');
if (!(params.churnPerSecond > 0) || !(params.sampleSeconds > 0) || !(params.quietWaitSeconds >= 0)) fail('--churn, --sample and --quiet-wait are positive numbers');
// The generator processes inherit the choice (load/tls-mode.ts).
if (params.tls) process.env[BENCH_TLS_ENV] = '1';

const ringUsers = Array.from({ length: params.clients }, (_, index) => `u${index + 1}`);
const churnUsers = Array.from({ length: CHURN_ACCOUNTS }, (_, index) => `c${index + 1}`);
const serverOptions = { address: params.address, domain: DOMAIN, usernames: [...ringUsers, ...churnUsers], password: PASSWORD, scramIterations: 4096 };
const clientSetup = {
  ...serverOptions,
  usernames: ringUsers,
  resource: 'bench',
  mechanism: 'SCRAM-SHA-1' as const,
  protocol: SERVERS.trellis!.protocol,
  loginConcurrency: 16,
  loginTimeoutMs: 30_000,
  bodyBytes: 90,
};

stopServersOnInterrupt();
try {
  await main();
} catch (error) {
  process.stderr.write(`soak failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopEverything();
  process.exitCode = 1;
}

async function main(): Promise<void> {
  const capacity = params.rate === undefined ? await measureCapacity() : undefined;
  const rate = params.rate ?? Math.round(capacity! / 2);
  process.stderr.write(`soak: ${rate} msg/s for ${params.minutes} min, ${params.churnPerSecond} clients coming and going per second\n`);
  const soak = await withServer('trellis', serverOptions, params.quietWaitSeconds, (server, port) => runSoak(server.pid, port, rate));
  const verdict = judge(soak);
  printReport(rate, capacity, soak, verdict);
  process.stdout.write(`\nresults: ${writeResults('soak', { params, rate, capacity, soak, verdict })}\n`);
  if (!verdict.passed) process.exitCode = 1;
}

async function measureCapacity(): Promise<number> {
  process.stderr.write('soak: measuring capacity (closed loop, window 10, 20 s)\n');
  const run = await withServer('trellis', serverOptions, params.quietWaitSeconds, (server, port) =>
    measureMessagingRun(server, { ...clientSetup, port, window: 10, maxMessages: 10_000_000 }, params.generators, { warmupMs: 3000, measureMs: 20_000, drainMs: 5000 }),
  );
  process.stderr.write(`soak: capacity ${Math.round(run.deliveredPerSecond)} msg/s\n`);
  return run.deliveredPerSecond;
}

interface MemorySample {
  minute: number;
  rssBytes: number;
}

interface SoakRun {
  samples: MemorySample[];
  sent: number;
  deliveredInWindow: number;
  errors: number;
  misordered: number;
  lost: number;
  p99Ms: number;
  churn: ChurnTotals;
}

async function runSoak(pid: number, port: number, rate: number): Promise<SoakRun> {
  const totalMs = params.minutes * 60_000;
  const { pool } = await GeneratorPool.start(params.generators, {
    ...clientSetup,
    port,
    window: 1,
    ratePerSecond: rate / params.generators,
    // twice the schedule of the whole run: a bound the schedule itself never reaches
    maxMessages: Math.ceil((2 * rate * totalMs) / 1000 / params.generators),
  });
  try {
    const start = performance.now();
    const end = start + totalMs;
    // The first minutes are the generators' warm-up, so the latency covers the rest.
    const traffic = pool.run({ warmupMs: params.settleMinutes * 60_000, measureMs: totalMs - params.settleMinutes * 60_000, drainMs: 10_000 });
    traffic.catch(() => {});
    const churn = runChurn(
      { address: params.address, port, domain: DOMAIN, password: PASSWORD, mechanism: 'SCRAM-SHA-1', timeoutMs: 30_000, usernames: churnUsers, perSecond: params.churnPerSecond, maxInFlight: 50, echoTimeoutMs: 10_000 },
      end,
    );
    churn.catch(() => {});
    const samples: MemorySample[] = [];
    while (performance.now() < end) {
      samples.push({ minute: (performance.now() - start) / 60_000, rssBytes: readProcSnapshot(pid).rssBytes });
      await sleep(Math.min(params.sampleSeconds * 1000, Math.max(0, end - performance.now())));
    }
    samples.push({ minute: (performance.now() - start) / 60_000, rssBytes: readProcSnapshot(pid).rssBytes });
    const results = await traffic;
    const histogram = new LatencyHistogram();
    for (const result of results) histogram.add(result.histogram);
    return {
      samples,
      sent: results.reduce((sum, result) => sum + result.sent, 0),
      deliveredInWindow: results.reduce((sum, result) => sum + result.delivered, 0),
      errors: results.reduce((sum, result) => sum + result.errors, 0),
      misordered: results.reduce((sum, result) => sum + result.misordered, 0),
      lost: results.reduce((sum, result) => sum + result.lost, 0),
      p99Ms: histogram.percentileMillis(0.99),
      churn: await churn,
    };
  } finally {
    await pool.close().catch(() => pool.kill());
  }
}

interface Verdict {
  referenceRssBytes: number;
  endRssBytes: number;
  /** end / reference - 1 */
  memoryChange: number;
  memoryFlat: boolean;
  noError: boolean;
  nothingLost: boolean;
  passed: boolean;
}

function judge(soak: SoakRun): Verdict {
  const reference = soak.samples.find((sample) => sample.minute >= params.settleMinutes) ?? soak.samples.at(-1)!;
  const end = soak.samples.at(-1)!;
  const memoryChange = end.rssBytes / reference.rssBytes - 1;
  const memoryFlat = Math.abs(memoryChange) <= MEMORY_TOLERANCE;
  const noError = soak.errors === 0 && soak.misordered === 0 && soak.churn.loginFailures === 0;
  const nothingLost = soak.lost === 0 && soak.churn.lost === 0;
  return { referenceRssBytes: reference.rssBytes, endRssBytes: end.rssBytes, memoryChange, memoryFlat, noError, nothingLost, passed: memoryFlat && noError && nothingLost };
}

function printReport(rate: number, capacity: number | undefined, soak: SoakRun, verdict: Verdict): void {
  const mb = (bytes: number) => fixed(bytes / 2 ** 20, 1);
  process.stdout.write(
    `\nsoak: Trellis, ${params.minutes} min, ${rate} msg/s offered` +
      (capacity === undefined ? ' (--rate)' : ` (half of the ${Math.round(capacity)} msg/s measured)`) +
      `, ${params.clients} clients in a ring, ${params.churnPerSecond} clients/s coming and going, clients on ${clientTransport()}\n\n`,
  );
  const everyTen = soak.samples.filter((sample, index) => index === 0 || index === soak.samples.length - 1 || Math.floor(sample.minute / 10) !== Math.floor(soak.samples[index - 1]!.minute / 10));
  process.stdout.write(textTable(['minute', 'RSS MB'], everyTen.map((sample) => [fixed(sample.minute, 1), mb(sample.rssBytes)])) + '\n\n');
  const churn = soak.churn;
  const rows = [
    ['ring messages sent', String(soak.sent)],
    ['ring errors / misordered / lost', `${soak.errors} / ${soak.misordered} / ${soak.lost}`],
    [`ring p99 after minute ${params.settleMinutes}`, `${fixed(soak.p99Ms, 1)} ms`],
    ['churn clients started / logged in / echoed', `${churn.started} / ${churn.loggedIn} / ${churn.echoed}`],
    ['churn login failures / lost / skipped (too many in flight)', `${churn.loginFailures} / ${churn.lost} / ${churn.skipped}`],
    [`RSS at minute ${params.settleMinutes} / at the end`, `${mb(verdict.referenceRssBytes)} / ${mb(verdict.endRssBytes)} MB (${verdict.memoryChange >= 0 ? '+' : ''}${fixed(verdict.memoryChange * 100, 1)}%)`],
  ];
  process.stdout.write(textTable(['', ''], rows) + '\n');
  for (const failure of churn.failures) process.stdout.write(`  churn failure: ${failure}\n`);
  process.stdout.write(
    `\nmemory within ${MEMORY_TOLERANCE * 100}%: ${verdict.memoryFlat ? 'yes' : 'NO'}; no error: ${verdict.noError ? 'yes' : 'NO'}; nothing lost: ${verdict.nothingLost ? 'yes' : 'NO'}\n`,
  );
}

function fail(message: string): never {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(2);
}
