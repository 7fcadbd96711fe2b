/**
 * Messaging at a fixed offered rate, side by side: latency under a given load and whether each
 * server keeps up, rather than the most it can do (that is the messaging scenario).
 *
 *   npm run bench -- fixed-rate [--rates 2000,10000] [--servers trellis,prosody,ejabberd,relay]
 *                               [--clients 100] [--seconds 10] [--warmup 3] [--generators 1] [--quiet-wait 120]
 *                               [--repeat 1]
 *
 * The clients log in as in the messaging scenario and client i messages client i+1, but sends are
 * scheduled (open loop): together the clients send --rates messages per second, one after the
 * other, whatever arrives. Each message carries its scheduled send time, so latency includes any
 * lateness of the sender. A server keeps up when it delivers within 2% of the offered rate and its
 * backlog (sent, not yet received) grows by less than 100 ms worth of messages over the window.
 * With --repeat, every rate runs that many rounds, the servers taking turns within each round, and
 * the report adds each server's median and spread per rate.
 * Column meanings and measured figures: docs/performance.md.
 */
import { parseArgs } from 'node:util';
import { clientTransport } from './load/tls-mode.ts';
import type { BenchMechanism } from './load/bench-client.ts';
import { GENERATOR_SATURATED_PERCENT, measureMessagingRun, type MessagingRun } from './load/messaging-run.ts';
import { writeResults } from './report/results.ts';
import { spreadOf, type Spread } from './report/stats.ts';
import { fixed, textTable } from './report/table.ts';
import { SERVERS } from './servers/registry.ts';
import { checkServerNames, OTHER_CORES_WARNING, stopEverything, stopServersOnInterrupt, withServer } from './servers/server-runs.ts';

const DOMAIN = 'bench.local';
const PASSWORD = 'bench-password';
/** deliveries (and sends) at least this share of the offered rate count as keeping up */
const KEPT_UP_SHARE = 0.98;
/** backlog growth over the window, in seconds of offered traffic, beyond which the server fell behind */
const BACKLOG_GROWTH_SECONDS = 0.1;

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '2000,10000' },
    servers: { type: 'string', default: 'trellis,prosody,ejabberd,relay' },
    clients: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    generators: { type: 'string', default: '1' },
    body: { type: 'string', default: '90' },
    address: { type: 'string', default: '127.0.0.21' },
    mechanism: { type: 'string', default: 'SCRAM-SHA-1' },
    iterations: { type: 'string', default: '4096' },
    'login-concurrency': { type: 'string', default: '16' },
    'quiet-wait': { type: 'string', default: '120' },
    repeat: { type: 'string', default: '1' },
  },
});

const params = {
  rates: values.rates.split(',').map(Number),
  servers: values.servers.split(',').map((name) => name.trim()).filter(Boolean),
  clients: Number(values.clients),
  seconds: Number(values.seconds),
  warmupSeconds: Number(values.warmup),
  generators: Number(values.generators),
  bodyBytes: Number(values.body),
  address: values.address,
  mechanism: values.mechanism as BenchMechanism,
  scramIterations: Number(values.iterations),
  loginConcurrency: Number(values['login-concurrency']),
  quietWaitSeconds: Number(values['quiet-wait']),
  repeat: Number(values.repeat),
};
checkServerNames(params.servers, fail);
if (!params.rates.every((rate) => rate > 0)) fail('--rates is a list of messages per second');
for (const name of ['clients', 'generators', 'body', 'iterations', 'login-concurrency', 'repeat'] as const) {
  if (!Number.isInteger(Number(values[name])) || Number(values[name]) < 1) fail(`--${name} must be a positive integer`);
}
if (params.clients < 2 * params.generators) fail('every generator needs at least 2 clients');
if (!(params.seconds > 0) || !(params.warmupSeconds >= 0) || !(params.quietWaitSeconds >= 0)) fail('--seconds, --warmup and --quiet-wait are numbers of seconds');
if (params.mechanism !== 'SCRAM-SHA-1' && params.mechanism !== 'SCRAM-SHA-256') fail('--mechanism is SCRAM-SHA-1 or SCRAM-SHA-256');

interface FixedRateRun extends MessagingRun {
  round: number;
  offeredPerSecond: number;
  keptUp: boolean;
  /** why it did not keep up, when it did not */
  behind: string[];
}

stopServersOnInterrupt();
try {
  await main();
} catch (error) {
  process.stderr.write(`fixed-rate benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopEverything();
  process.exitCode = 1;
}

async function main(): Promise<void> {
  const usernames = Array.from({ length: params.clients }, (_, index) => `u${index + 1}`);
  const runs: FixedRateRun[] = [];
  const servers: Record<string, { version: string; settings: string[] }> = {};
  for (const rate of params.rates) {
    for (let round = 1; round <= params.repeat; round++) {
      for (const name of params.servers) {
        process.stderr.write(`[${round}/${params.repeat}] ${name}: ${rate} msg/s offered\n`);
        const run = await runAtRate(name, rate, usernames, servers);
        runs.push(judge(run, rate, round));
        process.stderr.write(`[${round}/${params.repeat}] ${name}: ${Math.round(run.deliveredPerSecond)} msg/s delivered, p99 ${run.latencyMs.p99.toFixed(1)} ms\n`);
      }
    }
  }
  printReport(runs, servers);
  process.stdout.write(`\nresults: ${writeResults('fixed-rate', { params, servers, runs, medians: medians(runs) })}\n`);
}

/** Starts server `name`, logs the clients in, sends on the schedule for warm-up and window, and stops it. */
function runAtRate(name: string, rate: number, usernames: string[], servers: Record<string, { version: string; settings: string[] }>): Promise<MessagingRun> {
  const options = { address: params.address, domain: DOMAIN, usernames, password: PASSWORD, scramIterations: params.scramIterations };
  return withServer(name, options, params.quietWaitSeconds, (server, port) => {
    servers[name] = { version: server.version, settings: server.settings };
    return measureMessagingRun(
      server,
      {
        ...options,
        port,
        resource: 'bench',
        mechanism: params.mechanism,
        protocol: SERVERS[name]!.protocol,
        loginConcurrency: params.loginConcurrency,
        loginTimeoutMs: 30_000,
        window: 1,
        ratePerSecond: rate / params.generators,
        bodyBytes: params.bodyBytes,
        // twice the whole run's schedule: a bound that the schedule itself never reaches
        maxMessages: Math.ceil(2 * rate * (params.warmupSeconds + params.seconds + 1)),
      },
      params.generators,
      { warmupMs: params.warmupSeconds * 1000, measureMs: params.seconds * 1000, drainMs: 5000 },
    );
  });
}

function judge(run: MessagingRun, offered: number, round: number): FixedRateRun {
  const behind: string[] = [];
  if (run.sentPerSecond < KEPT_UP_SHARE * offered) behind.push('generator sent late');
  if (run.deliveredPerSecond < KEPT_UP_SHARE * offered) behind.push('delivered < 98%');
  if (run.backlogAtEnd - run.backlogAtStart > BACKLOG_GROWTH_SECONDS * offered) behind.push('backlog grew');
  if (run.errors + run.misordered + run.lost > 0) behind.push('errors or losses');
  return { ...run, round, offeredPerSecond: offered, keptUp: behind.length === 0, behind };
}

interface FixedRateMedian {
  server: string;
  offeredPerSecond: number;
  /** the rounds the median is over: the undisturbed ones (other ≤ OTHER_CORES_WARNING) when there are any, else all */
  rounds: number;
  /** all the rounds at this rate */
  of: number;
  /** whether the server kept up in every one of those rounds */
  keptUp: boolean;
  p50: Spread;
  p99: Spread;
  serverCores: Spread;
}

/** Each server's median and spread per offered rate, over its undisturbed rounds when it has any, as the messaging scenario does. */
function medians(runs: FixedRateRun[]): FixedRateMedian[] {
  const groups = new Map<string, FixedRateRun[]>();
  for (const run of runs) {
    const key = `${run.server} ${run.offeredPerSecond}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const undisturbed = group.filter((run) => run.otherCores <= OTHER_CORES_WARNING);
    const counted = undisturbed.length > 0 ? undisturbed : group;
    return {
      server: group[0]!.server,
      offeredPerSecond: group[0]!.offeredPerSecond,
      rounds: counted.length,
      of: group.length,
      keptUp: counted.every((run) => run.keptUp),
      p50: spreadOf(counted.map((run) => run.latencyMs.p50)),
      p99: spreadOf(counted.map((run) => run.latencyMs.p99)),
      serverCores: spreadOf(counted.map((run) => run.serverCores)),
    };
  });
}

function printReport(runs: FixedRateRun[], servers: Record<string, { version: string; settings: string[] }>): void {
  const headers = ['server', 'round', 'offered/s', 'sent/s', 'msg/s', 'backlog start/end', 'kept up', 'cores', 'RSS MB', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'gen CPU %', 'other', 'err/lost'];
  const rows = runs.map((run) => [
    run.server,
    String(run.round),
    String(run.offeredPerSecond),
    fixed(run.sentPerSecond, 0),
    fixed(run.deliveredPerSecond, 0),
    `${run.backlogAtStart}/${run.backlogAtEnd}`,
    run.keptUp ? 'yes' : `no: ${run.behind.join(', ')}`,
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
  process.stdout.write(
    `\nfixed-rate: ${params.clients} clients sending on a schedule, ${params.bodyBytes}-byte bodies, ${params.seconds} s measured after ${params.warmupSeconds} s warm-up, ${params.generators} generator process(es), ${clientTransport()}, ${params.mechanism}\n` +
      `kept up: delivered and sent within ${Math.round((1 - KEPT_UP_SHARE) * 100)}% of the offered rate, backlog grew by less than ${BACKLOG_GROWTH_SECONDS * 1000} ms of messages, no errors or losses\n\n`,
  );
  process.stdout.write(textTable(headers, rows) + '\n');
  if (params.repeat > 1) {
    const show = (spread: Spread, digits: number) => `${fixed(spread.median, digits)} (${fixed(spread.min, digits)}-${fixed(spread.max, digits)})`;
    process.stdout.write(`\nmedian (min-max) per server and rate, over its undisturbed rounds (other <= ${OTHER_CORES_WARNING} cores) when it has any, else over all\n\n`);
    process.stdout.write(
      textTable(
        ['server', 'offered/s', 'rounds', 'kept up', 'cores', 'p50 ms', 'p99 ms'],
        medians(runs).map((median) => [median.server, String(median.offeredPerSecond), `${median.rounds} of ${median.of}`, median.keptUp ? 'yes' : 'no', show(median.serverCores, 2), show(median.p50, 2), show(median.p99, 2)]),
      ) + '\n',
    );
  }
  if (runs.some((run) => run.generatorSaturated)) process.stdout.write(`\n! a load generator used more than ${GENERATOR_SATURATED_PERCENT}% of a core (try --generators 2)\n`);
  if (runs.some((run) => run.otherCores > OTHER_CORES_WARNING)) process.stdout.write(`\n! other processes used more than ${OTHER_CORES_WARNING} cores during a run: its figures are disturbed (see "other")\n`);
  for (const [name, server] of Object.entries(servers)) process.stdout.write(`\n${name}: ${server.version}\n${server.settings.map((line) => `  ${line}`).join('\n')}\n`);
}

function fail(message: string): never {
  process.stderr.write(`fixed-rate: ${message}\n`);
  process.exit(2);
}
