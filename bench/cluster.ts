/**
 * One Trellis node against two (docs/cluster.md), with ejabberd on the same machine beside them:
 *
 *   npm run bench -- cluster [--setups one,two,ejabberd] [--clients 100] [--seconds 10] [--warmup 3]
 *                            [--window 10] [--rate 2000] [--repeat 1] [--generators 1] [--quiet-wait 30]
 *                            [--archive off] [--profile]
 *
 * Every run starts its servers fresh: for Trellis a PostgreSQL and a redis-server, then one or two
 * nodes with `trellis start` (bench/cluster/trellis-cluster.ts); for ejabberd one server
 * (bench/servers/ejabberd.ts). Clients log in over plain TCP as in the messaging scenario and
 * client i messages client i+1; with two nodes neighbours are placed in pairs (0 0 1 1 0 0 1 1 ...,
 * bench/load/messaging-traffic.ts) so that half the messages cross nodes. Each run measures twice:
 * closed loop (--window in flight per client: the most it carries) and open loop at --rate
 * messages per second (latency at a fixed load, kept apart for messages that stay on a node and
 * messages that cross). The server's CPU is every node's, redis-server's and PostgreSQL's.
 * Message archives are off unless `--archive on`: with them each message waits for PostgreSQL
 * writes, which then bound every figure, and ejabberd here archives nothing.
 * Prints a table (and medians with --repeat) and writes JSON to bench/results/. Figures:
 * docs/performance.md, "Cluster".
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startTrellisCluster } from './cluster/trellis-cluster.ts';
import { GENERATOR_SATURATED_PERCENT, measureMessagingRun, type Latency, type MessagingRun } from './load/messaging-run.ts';
import { writeResults } from './report/results.ts';
import { spreadOf } from './report/stats.ts';
import { fixed, textTable } from './report/table.ts';
import { isListening } from './servers/daemon.ts';
import { startEjabberd } from './servers/ejabberd.ts';
import { waitForQuietMachine } from './servers/proc-stats.ts';
import { OTHER_CORES_WARNING, stopEverything, stopServersOnInterrupt, trackServer } from './servers/server-runs.ts';

const DOMAIN = 'bench.local';
const PASSWORD = 'bench-password';
const NODE_ADDRESSES = ['127.0.84.1', '127.0.84.2'];
const TRELLIS_PORT = 52221;
const EJABBERD = { address: '127.0.84.3', port: 52223 };
const SETUPS = ['one', 'two', 'ejabberd'] as const;
type Setup = (typeof SETUPS)[number];

const { values } = parseArgs({
  options: {
    setups: { type: 'string', default: SETUPS.join(',') },
    clients: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    window: { type: 'string', default: '10' },
    rate: { type: 'string', default: '2000' },
    repeat: { type: 'string', default: '1' },
    generators: { type: 'string', default: '1' },
    body: { type: 'string', default: '90' },
    iterations: { type: 'string', default: '4096' },
    'quiet-wait': { type: 'string', default: '30' },
    archive: { type: 'string', default: 'off' },
    profile: { type: 'boolean', default: false },
  },
});

const params = {
  setups: values.setups.split(',').map((name) => name.trim()).filter(Boolean) as Setup[],
  clients: Number(values.clients),
  seconds: Number(values.seconds),
  warmupSeconds: Number(values.warmup),
  window: Number(values.window),
  rate: Number(values.rate),
  repeat: Number(values.repeat),
  generators: Number(values.generators),
  bodyBytes: Number(values.body),
  scramIterations: Number(values.iterations),
  quietWaitSeconds: Number(values['quiet-wait']),
  archive: values.archive === 'on',
  profile: values.profile,
};
if (values.archive !== 'on' && values.archive !== 'off') fail('--archive is on or off');
for (const setup of params.setups) if (!SETUPS.includes(setup)) fail(`unknown setup "${setup}" (known: ${SETUPS.join(', ')})`);
for (const name of ['clients', 'window', 'repeat', 'generators', 'body', 'iterations'] as const) {
  if (!Number.isInteger(Number(values[name])) || Number(values[name]) < 1) fail(`--${name} must be a positive integer`);
}
// Each generator's ring must close across nodes too: a multiple of 2 × nodes clients per generator.
if (params.clients % (4 * params.generators) !== 0) fail('--clients must be a multiple of 4 × --generators, so that half the messages of every ring cross nodes');
if (params.repeat > 5) fail('--repeat is at most 5');
if (!(params.seconds > 0 && params.seconds <= 120) || !(params.warmupSeconds >= 0 && params.warmupSeconds <= 60)) fail('--seconds is in (0, 120] and --warmup in [0, 60]');
if (!(params.rate > 0) || !(params.quietWaitSeconds >= 0)) fail('--rate is messages per second and --quiet-wait seconds');

interface ClusterRun extends MessagingRun {
  setup: Setup;
  round: number;
  /** closed loop (the most it carries) or open loop at --rate */
  load: 'throughput' | 'fixed rate';
}

stopServersOnInterrupt();
try {
  await main();
} catch (error) {
  process.stderr.write(`cluster benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  await stopEverything();
  process.exitCode = 1;
}

async function main(): Promise<void> {
  const usernames = Array.from({ length: params.clients }, (_, index) => `u${index + 1}`);
  const runs: ClusterRun[] = [];
  const versions: Record<string, { version: string; settings: string[] }> = {};
  for (let round = 1; round <= params.repeat; round++) {
    for (const setup of params.setups) {
      const { address, port } = setup === 'ejabberd' ? EJABBERD : { address: NODE_ADDRESSES[0]!, port: TRELLIS_PORT };
      if (isListening(address, port)) throw new Error(`${address}:${port} is already in use; stop whatever listens there first`);
      if (params.quietWaitSeconds > 0) {
        const quiet = await waitForQuietMachine(OTHER_CORES_WARNING, params.quietWaitSeconds * 1000);
        if (quiet.busyCores >= OTHER_CORES_WARNING) process.stderr.write(`the machine is still busy (${quiet.busyCores.toFixed(2)} cores) after waiting ${params.quietWaitSeconds} s; running anyway\n`);
      }
      process.stderr.write(`[${round}/${params.repeat}] ${setup}: starting\n`);
      const serverOptions = { domain: DOMAIN, usernames, password: PASSWORD, scramIterations: params.scramIterations };
      const nodes = setup === 'ejabberd' ? undefined : NODE_ADDRESSES.slice(0, setup === 'one' ? 1 : 2).map((node) => ({ address: node, port: TRELLIS_PORT }));
      const current =
        setup === 'ejabberd'
          ? await startEjabberd({ ...serverOptions, ...EJABBERD })
          : await startTrellisCluster({ ...serverOptions, addresses: nodes!.map((node) => node.address), port: TRELLIS_PORT, archive: params.archive, profileDir: params.profile ? join(import.meta.dirname, 'results', 'profiles', `cluster-${setup}`) : undefined });
      trackServer(current);
      try {
        versions[setup] = { version: current.version, settings: current.settings };
        for (const load of ['throughput', 'fixed rate'] as const) {
          const fixedRate = load === 'fixed rate';
          const run = await measureMessagingRun(
            current,
            {
              address,
              port,
              nodes,
              domain: DOMAIN,
              usernames,
              password: PASSWORD,
              // a resource per load, so the second login never meets the first one's sessions
              resource: fixedRate ? 'rate' : 'loop',
              mechanism: 'SCRAM-SHA-1',
              protocol: 'xmpp',
              loginConcurrency: 16,
              loginTimeoutMs: 30_000,
              window: fixedRate ? 1 : params.window,
              ...(fixedRate ? { ratePerSecond: params.rate / params.generators } : {}),
              bodyBytes: params.bodyBytes,
              // a bound the closed loop never reaches on this hardware, and twice the open loop's schedule
              maxMessages: fixedRate ? Math.ceil(2 * params.rate * (params.warmupSeconds + params.seconds + 1)) : 50_000_000,
            },
            params.generators,
            { warmupMs: params.warmupSeconds * 1000, measureMs: params.seconds * 1000, drainMs: 5000 },
          );
          runs.push({ ...run, setup, round, load });
          process.stderr.write(`[${round}/${params.repeat}] ${setup}, ${load}: ${Math.round(run.deliveredPerSecond)} msg/s, ${run.serverCores.toFixed(2)} cores, p99 ${run.latencyMs.p99.toFixed(1)} ms\n`);
        }
      } finally {
        await current.stop();
        trackServer(undefined);
      }
    }
  }
  printReport(runs, versions);
  process.stdout.write(`\nresults: ${writeResults('cluster', { params, servers: versions, runs, summary: summarise(runs) })}\n`);
}

function latencyText(latency: Latency | undefined): string {
  return latency ? `${fixed(latency.p50, 2)}/${fixed(latency.p99, 2)}` : '-';
}

function printReport(runs: ClusterRun[], versions: Record<string, { version: string; settings: string[] }>): void {
  const headers = ['setup', 'run', 'load', 'msg/s', 'msg/CPU-s', 'cores', 'cores by part', 'p50/p99 ms', 'same node', 'cross node', 'gen CPU %', 'other', 'err/lost'];
  const rows = runs.map((run) => [
    run.setup,
    String(run.round),
    run.load === 'fixed rate' ? `${params.rate}/s` : `window ${params.window}`,
    fixed(run.deliveredPerSecond, 0),
    fixed(run.deliveredPerServerCpuSecond, 0),
    fixed(run.serverCores, 2),
    run.partCores ? Object.entries(run.partCores).map(([part, cores]) => `${part} ${fixed(cores, 2)}`).join(', ') : '-',
    latencyText(run.latencyMs),
    latencyText(run.sameNodeLatencyMs),
    latencyText(run.crossNodeLatencyMs),
    run.generatorCpuPercent.map((percent) => fixed(percent, 0)).join('+') + (run.generatorSaturated ? '!' : ''),
    fixed(run.otherCores, 2) + (run.otherCores > OTHER_CORES_WARNING ? '!' : ''),
    `${run.errors + run.misordered}/${run.lost}`,
  ]);
  process.stdout.write(
    `\ncluster: ${params.clients} clients (two nodes: half the messages cross), ${params.bodyBytes}-byte bodies, ${params.seconds} s measured after ${params.warmupSeconds} s warm-up, ` +
      `${params.generators} generator process(es), plain TCP, Trellis's message archives ${params.archive ? 'on' : 'off'}; CPU of every node + redis-server + PostgreSQL\n\n`,
  );
  process.stdout.write(textTable(headers, rows) + '\n');
  if (params.repeat > 1) {
    process.stdout.write('\nmedian (min-max) over the rounds\n\n');
    const show = (values: number[], digits: number) => {
      const spread = spreadOf(values);
      return `${fixed(spread.median, digits)} (${fixed(spread.min, digits)}-${fixed(spread.max, digits)})`;
    };
    const summary = summarise(runs);
    process.stdout.write(
      textTable(
        ['setup', 'load', 'msg/s', 'msg/CPU-s', 'cores', 'p50 ms', 'p99 ms', 'cross p50 ms', 'cross p99 ms'],
        summary.map((entry) => [entry.setup, entry.load, show(entry.msgs, 0), show(entry.perCpu, 0), show(entry.cores, 2), show(entry.p50, 2), show(entry.p99, 2), show(entry.crossP50, 2), show(entry.crossP99, 2)]),
      ) + '\n',
    );
  }
  if (runs.some((run) => run.generatorSaturated)) process.stdout.write(`\n! a load generator used more than ${GENERATOR_SATURATED_PERCENT}% of a core: that run may measure the generator (try --generators 2)\n`);
  if (runs.some((run) => run.otherCores > OTHER_CORES_WARNING)) process.stdout.write(`\n! other processes used more than ${OTHER_CORES_WARNING} cores during a run: its figures are disturbed (see "other")\n`);
  if (runs.some((run) => run.errors + run.misordered + run.lost > 0)) process.stdout.write('\n! some messages bounced, arrived out of order or were lost: see err/lost\n');
  for (const [setup, server] of Object.entries(versions)) process.stdout.write(`\n${setup}: ${server.version}\n${server.settings.map((line) => `  ${line}`).join('\n')}\n`);
}

function summarise(runs: ClusterRun[]) {
  return params.setups.flatMap((setup) =>
    (['throughput', 'fixed rate'] as const).map((load) => {
      const mine = runs.filter((run) => run.setup === setup && run.load === load);
      return {
        setup,
        load,
        msgs: mine.map((run) => run.deliveredPerSecond),
        perCpu: mine.map((run) => run.deliveredPerServerCpuSecond),
        cores: mine.map((run) => run.serverCores),
        p50: mine.map((run) => run.latencyMs.p50),
        p99: mine.map((run) => run.latencyMs.p99),
        crossP50: mine.map((run) => run.crossNodeLatencyMs?.p50 ?? NaN),
        crossP99: mine.map((run) => run.crossNodeLatencyMs?.p99 ?? NaN),
      };
    }),
  );
}

function fail(message: string): never {
  process.stderr.write(`cluster: ${message}\n`);
  process.exit(2);
}
