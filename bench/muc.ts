/**
 * Group-chat (MUC, XEP-0045) fan-out, Trellis side by side with Prosody and ejabberd (mod_muc):
 *
 *   npm run bench -- muc [--occupants 1000] [--messages 10] [--servers trellis,prosody,ejabberd] [--repeat 1] [--profile]
 *
 * N users enter one room of conference.<domain> (the first creates it as an instant room), then
 * one of them sends groupchat messages one at a time and the benchmark times how long each takes
 * to reach every occupant, the sender's own copy included (XEP-0045 section 7.4). Also: the time
 * for the N occupants to enter, and the servers' CPU for both. Every wait is bounded. With
 * --repeat, rounds run the servers in turn and a second table gives each server's medians over
 * the rounds. Prints the tables and writes JSON to bench/results/; docs/performance.md explains it.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { clientTransport } from './load/tls-mode.ts';
import { mucFanOutRun, type MucFanOutRun } from './load/muc-fan-out.ts';
import { writeResults } from './report/results.ts';
import { spreadOf } from './report/stats.ts';
import { fixed, textTable } from './report/table.ts';
import { raiseFileLimit } from './servers/file-limit.ts';
import { checkServerNames, OTHER_CORES_WARNING, stopEverything, stopServersOnInterrupt, withServer } from './servers/server-runs.ts';

const DOMAIN = 'bench.local';
const ROOM = `fanout@conference.${DOMAIN}`;
const PASSWORD = 'bench-password';
/** sockets the benchmark process holds besides the clients' */
const SPARE_FILES = 200;

const { values } = parseArgs({
  options: {
    occupants: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '1' },
    servers: { type: 'string', default: 'trellis,prosody,ejabberd' },
    address: { type: 'string', default: '127.0.0.21' },
    'join-concurrency': { type: 'string', default: '16' },
    timeout: { type: 'string', default: '120' },
    'quiet-wait': { type: 'string', default: '60' },
    /** Trellis writes a CPU profile to bench/results/profiles (summarise: node bench/tools/cpuprofile-top.ts FILE) */
    profile: { type: 'boolean', default: false },
  },
});
const params = {
  occupants: Number(values.occupants),
  messages: Number(values.messages),
  repeat: Number(values.repeat),
  servers: values.servers.split(',').map((name) => name.trim()).filter(Boolean),
  address: values.address,
  joinConcurrency: Number(values['join-concurrency']),
  timeoutMs: Number(values.timeout) * 1000,
  quietWaitSeconds: Number(values['quiet-wait']),
};
if (!Number.isInteger(params.occupants) || params.occupants < 2 || params.occupants > 5000) fail('--occupants is a count from 2 to 5000');
if (!Number.isInteger(params.messages) || params.messages < 1 || params.messages > 1000) fail('--messages is a count from 1 to 1000');
if (!Number.isInteger(params.repeat) || params.repeat < 1 || params.repeat > 20) fail('--repeat is a count from 1 to 20');
if (!Number.isInteger(params.joinConcurrency) || params.joinConcurrency < 1 || params.joinConcurrency > 256) fail('--join-concurrency is a count from 1 to 256');
if (!(params.timeoutMs > 0) || params.timeoutMs > 600_000) fail('--timeout is a number of seconds up to 600');
checkServerNames(params.servers, fail);
const files = raiseFileLimit();
if (files < params.occupants + SPARE_FILES) fail(`${params.occupants} clients need ${params.occupants + SPARE_FILES} open files; this process may open ${files}`);

stopServersOnInterrupt();
try {
  await main();
} catch (error) {
  process.stderr.write(`muc benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopEverything();
  process.exitCode = 1;
}

async function main(): Promise<void> {
  const usernames = Array.from({ length: params.occupants }, (_, index) => `u${index + 1}`);
  const runs: (MucFanOutRun & { round: number })[] = [];
  const servers: Record<string, { version: string; settings: string[] }> = {};
  for (let round = 1; round <= params.repeat; round++) for (const name of params.servers) {
    const profileDir = values.profile && name === 'trellis' ? join(import.meta.dirname, 'results', 'profiles') : undefined;
    const options = { address: params.address, domain: DOMAIN, usernames, password: PASSWORD, scramIterations: 4096, muc: { maxOccupants: params.occupants + 10 }, profileDir };
    const run = await withServer(name, options, params.quietWaitSeconds, async (server, port) => {
      servers[name] = { version: server.version, settings: server.settings };
      process.stderr.write(`${name}: ${params.occupants} occupants on ${params.address}:${port}\n`);
      return mucFanOutRun(server, { address: params.address, port, domain: DOMAIN, password: PASSWORD, usernames, room: ROOM, messages: params.messages, joinConcurrency: params.joinConcurrency, timeoutMs: params.timeoutMs, waitForIdleServer: profileDir !== undefined });
    });
    runs.push({ ...run, round });
    process.stderr.write(`[${round}/${params.repeat}] ${name}: entered in ${run.joinSeconds.toFixed(1)} s, all reached in ${spreadOf(run.allReachedMs).median.toFixed(2)} ms (median)\n${JSON.stringify(run)}\n`);
  }
  printReport(runs, servers);
  process.stdout.write(`\nresults: ${writeResults('muc', { params, servers, runs })}\n`);
}

/** The value below which `fraction` of the values lie (nearest rank). */
function percentile(values: number[], fraction: number): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

function printReport(runs: (MucFanOutRun & { round: number })[], servers: Record<string, { version: string; settings: string[] }>): void {
  const rows = runs.map((run) => [
    run.server,
    String(run.round),
    String(run.occupants),
    `${run.completeMessages}/${run.messages}`,
    fixed(spreadOf(run.allReachedMs).median, 1),
    fixed(percentile(run.allReachedMs, 0.9), 1),
    fixed(percentile(run.allReachedMs, 0.99), 1),
    fixed(spreadOf(run.firstReachedMs).median, 2),
    fixed(spreadOf(run.medianOccupantMs).median, 1),
    fixed(run.serverCpuMsPerMessage, 1),
    fixed(run.joinSeconds, 1),
    fixed(spreadOf(run.joinLatencyMs).median, 1),
    fixed(run.joinServerCpuSeconds, 1),
    fixed(run.serverRssBytes / 2 ** 20, 1),
    fixed(run.otherCores, 2) + (run.otherCores > OTHER_CORES_WARNING ? '!' : ''),
  ]);
  process.stdout.write(`\ngroup-chat fan-out: ${params.messages} groupchat messages, one at a time, to a room of N occupants, all on ${clientTransport()}; ${params.joinConcurrency} entries in flight\n\n`);
  process.stdout.write(
    textTable(['server', 'round', 'occupants', 'complete', 'all p50 ms', 'all p90 ms', 'all p99 ms', 'first p50 ms', 'median occupant ms', 'CPU ms/msg', 'join s', 'join p50 ms', 'join CPU s', 'RSS MB', 'other'], rows) + '\n',
  );
  // Per server, the median over the rounds of each round's p50 and p99 (with their range).
  const summary = params.servers.map((name) => {
    const own = runs.filter((run) => run.server === name);
    const p50 = spreadOf(own.map((run) => spreadOf(run.allReachedMs).median));
    const p99 = spreadOf(own.map((run) => percentile(run.allReachedMs, 0.99)));
    const cpu = spreadOf(own.map((run) => run.serverCpuMsPerMessage));
    const range = (spread: { median: number; min: number; max: number }, digits: number) => `${fixed(spread.median, digits)} (${fixed(spread.min, digits)}–${fixed(spread.max, digits)})`;
    return { name, p50, p99, cpu, row: [name, String(own.length), range(p50, 1), range(p99, 1), range(cpu, 1)] };
  });
  if (params.repeat > 1) {
    process.stdout.write(`\nmedians over ${params.repeat} rounds (range): a message reaching all N occupants\n\n`);
    process.stdout.write(textTable(['server', 'rounds', 'all p50 ms', 'all p99 ms', 'CPU ms/msg'], summary.map((entry) => entry.row)) + '\n');
  }
  const trellis = summary.find((entry) => entry.name === 'trellis');
  for (const other of summary.filter((entry) => entry.name !== 'trellis')) {
    if (!trellis) break;
    process.stdout.write(`\n${other.name}/Trellis: time to reach all, p50 ${fixed(other.p50.median / trellis.p50.median, 2)}, p99 ${fixed(other.p99.median / trellis.p99.median, 2)}; server CPU per message ${fixed(other.cpu.median / trellis.cpu.median, 2)}`);
  }
  process.stdout.write('\n');
  if (runs.some((run) => run.otherCores > OTHER_CORES_WARNING)) process.stdout.write(`\n! other processes used more than ${OTHER_CORES_WARNING} cores while the messages ran: those figures are disturbed (see "other")\n`);
  for (const [name, { version, settings }] of Object.entries(servers)) process.stdout.write(`\n${name}: ${version}\n${settings.map((line) => `  - ${line}`).join('\n')}\n`);
}

function fail(message: string): never {
  process.stderr.write(`muc: ${message}\n`);
  process.exit(2);
}
