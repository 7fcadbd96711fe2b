/**
 * Messaging throughput and latency, Trellis side by side with Prosody and ejabberd (and the
 * trivial TCP relay with `--servers ...,relay`):
 *
 *   npm run bench -- messaging [--clients 100] [--seconds 10] [--window 10] [--servers trellis,prosody,ejabberd]
 *                              [--repeat 1] [--generators 1] [--warmup 3] [--profile] [--quiet-wait 120] [--archive]
 *
 * Each run starts a fresh server, logs every client in over plain TCP, or STARTTLS with
 * TRELLIS_BENCH_TLS=1 (load/tls-mode.ts) (SCRAM, bind, presence),
 * lets client i message client i+1 with a bounded window in flight, and measures deliveries,
 * latency and CPU. Trellis runs without its message archive, as Prosody and ejabberd run here
 * without mod_mam; `--archive` keeps Trellis's on (the default of a real server) to measure its cost. Servers alternate run by run; before each, it waits (up to --quiet-wait
 * seconds) for the machine to be idle, since other processes' CPU use disturbs every figure. Prints one table and writes JSON to
 * bench/results/. Column meanings and measured figures: docs/performance.md.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { clientTransport } from './load/tls-mode.ts';
import type { BenchMechanism } from './load/bench-client.ts';
import { writeResults as writeResultsFile } from './report/results.ts';
import { GENERATOR_SATURATED_PERCENT, killActiveGenerators, measureMessagingRun, type MessagingRun } from './load/messaging-run.ts';
import { spreadOf, type Spread } from './report/stats.ts';
import { textTable } from './report/table.ts';
import { isListening, stopAllDaemons } from './servers/daemon.ts';
import { waitForQuietMachine } from './servers/proc-stats.ts';
import { SERVERS as STARTERS } from './servers/registry.ts';
import type { ServerUnderTest } from './servers/server-under-test.ts';
const DOMAIN = 'bench.local';
const PASSWORD = 'bench-password';
const RESULTS_DIR = join(import.meta.dirname, 'results');
/** busy cores outside the server and generators above which a run counts as disturbed */
const OTHER_CORES_WARNING = 0.2;

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    window: { type: 'string', default: '10' },
    servers: { type: 'string', default: 'trellis,prosody,ejabberd' },
    repeat: { type: 'string', default: '1' },
    generators: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '3' },
    body: { type: 'string', default: '90' },
    address: { type: 'string', default: '127.0.0.21' },
    mechanism: { type: 'string', default: 'SCRAM-SHA-1' },
    iterations: { type: 'string', default: '4096' },
    'login-concurrency': { type: 'string', default: '16' },
    'max-messages': { type: 'string', default: '50000000' },
    'quiet-wait': { type: 'string', default: '120' },
    profile: { type: 'boolean', default: false },
    archive: { type: 'boolean', default: false },
  },
});

const params = {
  clients: positiveInteger('clients'),
  seconds: positiveNumber('seconds'),
  window: positiveInteger('window'),
  servers: values.servers.split(',').map((name) => name.trim()).filter(Boolean),
  repeat: positiveInteger('repeat'),
  generators: positiveInteger('generators'),
  warmupSeconds: Number(values.warmup),
  bodyBytes: positiveInteger('body'),
  address: values.address,
  mechanism: values.mechanism as BenchMechanism,
  scramIterations: positiveInteger('iterations'),
  loginConcurrency: positiveInteger('login-concurrency'),
  maxMessages: positiveInteger('max-messages'),
  quietWaitSeconds: Number(values['quiet-wait']),
  profile: values.profile,
  archive: values.archive,
};
for (const name of params.servers) if (!STARTERS[name]) fail(`unknown server "${name}" (known: ${Object.keys(STARTERS).join(', ')})`);
if (params.mechanism !== 'SCRAM-SHA-1' && params.mechanism !== 'SCRAM-SHA-256') fail('--mechanism is SCRAM-SHA-1 or SCRAM-SHA-256');
if (params.clients < 2 * params.generators) fail('every generator needs at least 2 clients');
if (!(params.warmupSeconds >= 0)) fail('--warmup is a number of seconds');
if (!(params.quietWaitSeconds >= 0)) fail('--quiet-wait is a number of seconds');

let current: ServerUnderTest | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the load generators and servers\n`);
    killActiveGenerators();
    // The server's own stop also removes its scratch directory.
    void Promise.allSettled([current?.stop(), stopAllDaemons()]).finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  process.stderr.write(`messaging benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
  killActiveGenerators();
  await Promise.allSettled([current?.stop(), stopAllDaemons()]);
  process.exitCode = 1;
}

async function main(): Promise<void> {
  const usernames = Array.from({ length: params.clients }, (_, index) => `u${index + 1}`);
  const runs: MessagingRun[] = [];
  const servers: Record<string, { version: string; settings: string[] }> = {};
  const profileDir = params.profile ? join(RESULTS_DIR, 'profiles') : undefined;
  for (let round = 1; round <= params.repeat; round++) {
    for (const name of params.servers) {
      const { start, port, protocol } = STARTERS[name]!;
      if (isListening(params.address, port)) throw new Error(`${params.address}:${port} is already in use; stop whatever listens there first`);
      if (params.quietWaitSeconds > 0) {
        const quiet = await waitForQuietMachine(OTHER_CORES_WARNING, params.quietWaitSeconds * 1000);
        if (quiet.busyCores >= OTHER_CORES_WARNING) process.stderr.write(`the machine is still busy (${quiet.busyCores.toFixed(2)} cores) after waiting ${params.quietWaitSeconds} s; running anyway\n`);
      }
      process.stderr.write(`[${round}/${params.repeat}] ${name}: starting on ${params.address}:${port}, ${params.clients} clients\n`);
      current = await start({ address: params.address, port, domain: DOMAIN, usernames, password: PASSWORD, scramIterations: params.scramIterations, profileDir: name === 'trellis' ? profileDir : undefined, archive: params.archive });
      try {
        servers[name] = { version: current.version, settings: current.settings };
        const run = await measureMessagingRun(
          current,
          {
            address: params.address,
            port,
            domain: DOMAIN,
            usernames,
            password: PASSWORD,
            resource: 'bench',
            mechanism: params.mechanism,
            protocol,
            loginConcurrency: params.loginConcurrency,
            loginTimeoutMs: 30_000,
            window: params.window,
            bodyBytes: params.bodyBytes,
            maxMessages: params.maxMessages,
          },
          params.generators,
          { warmupMs: params.warmupSeconds * 1000, measureMs: params.seconds * 1000, drainMs: 5000 },
        );
        runs.push(run);
        process.stderr.write(`[${round}/${params.repeat}] ${name}: ${Math.round(run.deliveredPerSecond)} msg/s, p99 ${run.latencyMs.p99.toFixed(1)} ms\n`);
      } finally {
        await current.stop();
        current = undefined;
      }
    }
  }
  printReport(runs, servers);
  const file = writeResults(runs, servers);
  process.stdout.write(`\nresults: ${file}\n`);
  if (profileDir) process.stdout.write(`Trellis CPU profiles: ${profileDir} (summarise: node bench/tools/cpuprofile-top.ts FILE)\n`);
}

function printReport(runs: MessagingRun[], servers: Record<string, { version: string; settings: string[] }>): void {
  const headers = ['server', 'run', 'clients', 'msg/s', 'msg/CPU-s', 'cores', 'RSS MB', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'gen CPU %', 'other', 'err/lost'];
  const rows = runs.map((run, index) => [
    run.server,
    String(Math.floor(index / params.servers.length) + 1),
    String(run.clients),
    fixed(run.deliveredPerSecond, 0),
    fixed(run.deliveredPerServerCpuSecond, 0),
    fixed(run.serverCores, 2),
    fixed(run.serverRssPeakBytes / 2 ** 20, 1),
    fixed(run.latencyMs.p50, 2),
    fixed(run.latencyMs.p95, 2),
    fixed(run.latencyMs.p99, 2),
    fixed(run.latencyMs.max, 1),
    run.generatorCpuPercent.map((percent) => fixed(percent, 0)).join('+') + (run.generatorSaturated ? '!' : ''),
    fixed(run.otherCores, 2) + (run.otherCores > OTHER_CORES_WARNING ? '!' : ''),
    `${run.errors + run.misordered}/${run.lost}`,
  ]);
  process.stdout.write(`\nmessaging: ${params.clients} clients, window ${params.window}, ${params.bodyBytes}-byte bodies, ${params.seconds} s measured after ${params.warmupSeconds} s warm-up, ${params.generators} generator process(es), ${clientTransport()}, ${params.mechanism}, ${params.scramIterations} PBKDF2 iterations\n\n`);
  process.stdout.write(textTable(headers, rows) + '\n');

  const summary = summarise(runs);
  if (params.repeat > 1) {
    process.stdout.write(`\nmedian (min-max) per server, over its undisturbed runs (other <= ${OTHER_CORES_WARNING} cores) when it has any, else over all\n\n`);
    const show = (spread: Spread, digits: number) => `${fixed(spread.median, digits)} (${fixed(spread.min, digits)}-${fixed(spread.max, digits)})`;
    process.stdout.write(
      textTable(
        ['server', 'runs', 'msg/s', 'msg/CPU-s', 'cores', 'RSS MB', 'p50 ms', 'p99 ms'],
        Object.entries(summary).map(([name, s]) => [name, s.runs, show(s.deliveredPerSecond, 0), show(s.deliveredPerServerCpuSecond, 0), show(s.serverCores, 2), show(s.rssMb, 1), show(s.p50, 2), show(s.p99, 2)]),
      ) + '\n',
    );
  }
  const trellis = summary.trellis;
  for (const [name, other] of Object.entries(summary)) {
    if (!trellis || name === 'trellis') continue;
    const ratio = (a: Spread, b: Spread) => fixed(a.median / b.median, 2);
    process.stdout.write(
      `\nTrellis/${name} (medians): msg/s ${ratio(trellis.deliveredPerSecond, other.deliveredPerSecond)}, msg/CPU-s ${ratio(trellis.deliveredPerServerCpuSecond, other.deliveredPerServerCpuSecond)}, ` +
        `RSS ${ratio(trellis.rssMb, other.rssMb)}, p50 ${ratio(trellis.p50, other.p50)}, p99 ${ratio(trellis.p99, other.p99)}\n`,
    );
  }
  if (runs.some((run) => run.generatorSaturated)) {
    process.stdout.write(`\n! a load generator used more than ${GENERATOR_SATURATED_PERCENT}% of a core: that run may measure the generator, not the server (try --generators 2)\n`);
  }
  if (runs.some((run) => run.otherCores > OTHER_CORES_WARNING)) {
    process.stdout.write(`\n! other processes used more than ${OTHER_CORES_WARNING} cores during a run: its figures are disturbed (see "other")\n`);
  }
  if (runs.some((run) => run.errors + run.misordered + run.lost > 0)) process.stdout.write('\n! some messages bounced, arrived out of order or were lost: see err/lost\n');
  for (const [name, server] of Object.entries(servers)) process.stdout.write(`\n${name}: ${server.version}\n${server.settings.map((line) => `  ${line}`).join('\n')}\n`);
}

function summarise(runs: MessagingRun[]) {
  const byServer: Record<string, { runs: string; deliveredPerSecond: Spread; deliveredPerServerCpuSecond: Spread; serverCores: Spread; rssMb: Spread; p50: Spread; p99: Spread }> = {};
  for (const name of params.servers) {
    const all = runs.filter((run) => run.server === name);
    const undisturbed = all.filter((run) => run.otherCores <= OTHER_CORES_WARNING);
    const mine = undisturbed.length > 0 ? undisturbed : all;
    if (mine.length === 0) continue;
    byServer[name] = {
      runs: undisturbed.length > 0 ? `${undisturbed.length} of ${all.length}` : `all ${all.length} (disturbed)`,
      deliveredPerSecond: spreadOf(mine.map((run) => run.deliveredPerSecond)),
      deliveredPerServerCpuSecond: spreadOf(mine.map((run) => run.deliveredPerServerCpuSecond)),
      serverCores: spreadOf(mine.map((run) => run.serverCores)),
      rssMb: spreadOf(mine.map((run) => run.serverRssPeakBytes / 2 ** 20)),
      p50: spreadOf(mine.map((run) => run.latencyMs.p50)),
      p99: spreadOf(mine.map((run) => run.latencyMs.p99)),
    };
  }
  return byServer;
}

function writeResults(runs: MessagingRun[], servers: Record<string, { version: string; settings: string[] }>): string {
  return writeResultsFile('messaging', { params, servers, runs, summary: summarise(runs) });
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function positiveInteger(name: keyof typeof values): number {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer`);
  return value;
}

function positiveNumber(name: keyof typeof values): number {
  const value = Number(values[name]);
  if (!(value > 0)) fail(`--${name} must be a positive number`);
  return value;
}

function fail(message: string): never {
  process.stderr.write(`messaging: ${message}\n`);
  process.exit(2);
}
