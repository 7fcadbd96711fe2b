/**
 * The cluster's per-node inbox on Redis Streams against NATS JetStream (docs/decisions.md):
 *
 *   npm run bench -- cluster-inbox [--backends redis,nats] [--writers 4] [--window 32] [--rate 5000]
 *                                  [--seconds 10] [--warmup 2] [--bytes 300] [--repeat 1]
 *
 * Starts Debian's redis-server and nats-server (JetStream on, memory storage), each fresh for
 * every run, then `--writers` writers append entries (a message stanza of about `--bytes`) to one
 * node's inbox and its one reader reads them in batches, acknowledging each batch after handling
 * it (bench/cluster/inbox-backends.ts): first closed loop, each writer keeping `--window` appends
 * unconfirmed (the most the server carries), then open loop at `--rate` entries per second over
 * all writers (latency at a fixed load). Latency is from the append call to the reader's handling,
 * in this one process. Server CPU is read from /proc; the benchmark process's own CPU (the clients)
 * is reported too. Writes JSON to bench/results/.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startRedis } from '../test/support/redis.ts';
import { accepts, freePort } from '../test/support/server-process.ts';
import { natsInbox, redisInbox, type InboxBackend } from './cluster/inbox-backends.ts';
import { LatencyHistogram } from './load/histogram.ts';
import { writeResults } from './report/results.ts';
import { spreadOf } from './report/stats.ts';
import { fixed, textTable } from './report/table.ts';
import { readProcSnapshot } from './servers/proc-stats.ts';

const NATS_SERVER = '/usr/sbin/nats-server';
const BACKENDS = ['redis', 'nats'] as const;
type Backend = (typeof BACKENDS)[number];
/** the inbox bound of the runs (cluster.inbox_max_entries' default) */
const MAX_ENTRIES = 100_000;

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: BACKENDS.join(',') },
    writers: { type: 'string', default: '4' },
    window: { type: 'string', default: '32' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    bytes: { type: 'string', default: '300' },
    repeat: { type: 'string', default: '1' },
  },
});
const params = {
  backends: values.backends.split(',').map((name) => name.trim()) as Backend[],
  writers: Number(values.writers),
  window: Number(values.window),
  rate: Number(values.rate),
  seconds: Number(values.seconds),
  warmupSeconds: Number(values.warmup),
  bytes: Number(values.bytes),
  repeat: Number(values.repeat),
};
for (const backend of params.backends) if (!BACKENDS.includes(backend)) fail(`unknown backend "${backend}" (known: ${BACKENDS.join(', ')})`);
for (const name of ['writers', 'window', 'bytes', 'repeat'] as const) if (!Number.isInteger(Number(values[name])) || Number(values[name]) < 1) fail(`--${name} must be a positive integer`);
if (params.writers > 64 || params.window > 1000 || params.repeat > 5) fail('--writers is at most 64, --window 1000, --repeat 5');
if (!(params.rate > 0) || !(params.seconds > 0 && params.seconds <= 120) || !(params.warmupSeconds >= 0 && params.warmupSeconds <= 60)) fail('--rate is entries per second, --seconds in (0, 120], --warmup in [0, 60]');

interface InboxRun {
  backend: Backend;
  round: number;
  load: string;
  appendedPerSecond: number;
  readPerSecond: number;
  /** entries read per second of the server's CPU time */
  perServerCpuSecond: number;
  serverCores: number;
  clientCores: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** appends refused or failed, and entries read out of order for their writer */
  errors: number;
  /** the first append failure's message, if any */
  firstError?: string;
  misordered: number;
}

interface RunningServer {
  pid: number;
  backend: InboxBackend;
  stop(): Promise<void>;
}

const cleanups = new Set<() => Promise<void>>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void Promise.allSettled([...cleanups].map((cleanup) => cleanup())).finally(() => process.exit(130)));
}

try {
  const runs: InboxRun[] = [];
  for (let round = 1; round <= params.repeat; round++) {
    for (const backend of params.backends) {
      for (const rate of [undefined, params.rate]) {
        const server = await start(backend);
        cleanups.add(server.stop);
        try {
          const run = await measure(server, backend, round, rate);
          runs.push(run);
          process.stderr.write(`[${round}/${params.repeat}] ${backend} ${run.load}: ${Math.round(run.readPerSecond)} entries/s, ${run.serverCores.toFixed(2)} server cores, p99 ${run.latencyMs.p99.toFixed(2)} ms\n`);
        } finally {
          cleanups.delete(server.stop);
          await server.stop();
        }
      }
    }
  }
  report(runs);
  process.stdout.write(`\nresults: ${writeResults('cluster-inbox', { params, versions: versions(), runs })}\n`);
} catch (error) {
  process.stderr.write(`cluster-inbox benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  await Promise.allSettled([...cleanups].map((cleanup) => cleanup()));
  process.exitCode = 1;
}

async function start(backend: Backend): Promise<RunningServer> {
  if (backend === 'redis') {
    const redis = await startRedis();
    try {
      const inbox = await redisInbox(redis.url, params.writers, MAX_ENTRIES);
      return { pid: redis.pid()!, backend: inbox, stop: async () => (await inbox.close().catch(() => {}), await redis.remove()) };
    } catch (error) {
      await redis.remove();
      throw error;
    }
  }
  if (!existsSync(NATS_SERVER)) throw new Error('nats-server is missing; install it with: apt-get install -y nats-server');
  const dir = mkdtempSync(join(tmpdir(), 'trellis-nats-'));
  const port = await freePort();
  const child: ChildProcess = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stopServer = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error('nats-server did not start');
      await sleep(20);
    }
    const inbox = await natsInbox(`127.0.0.1:${port}`, params.writers, MAX_ENTRIES);
    return { pid: child.pid!, backend: inbox, stop: async () => (await inbox.close().catch(() => {}), await stopServer()) };
  } catch (error) {
    await stopServer();
    throw error;
  }
}

/** One run: writers append (closed loop, or at `rate`), the reader reads; warm-up, then the measured window. */
async function measure(server: RunningServer, backend: Backend, round: number, rate: number | undefined): Promise<InboxRun> {
  const filler = 'x'.repeat(Math.max(0, params.bytes - 120));
  const nextSeq = new Array<number>(params.writers).fill(0);
  const expectedSeq = new Array<number>(params.writers).fill(0);
  let histogram = new LatencyHistogram();
  let appended = 0;
  let read = 0;
  let errors = 0;
  let firstError: string | undefined;
  let misordered = 0;
  let sending = true;
  const pending = new Set<Promise<void>>();
  const append = (writer: number, stamp: number): Promise<void> => {
    const seq = nextSeq[writer]!++;
    const xml = `<message xmlns='jabber:client' to='user@bench.local/r' type='chat'><body>${writer}:${seq}:${stamp.toFixed(3)}:${filler}</body></message>`;
    const done = server.backend.append(writer, xml).then(
      () => void appended++,
      (error: unknown) => {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      },
    );
    pending.add(done);
    void done.finally(() => pending.delete(done));
    return done;
  };
  server.backend.startReading((xmls) => {
    const now = performance.now();
    for (const xml of xmls) {
      const start = xml.indexOf('<body>') + 6;
      const [writer, seq, stamp] = xml.slice(start, xml.indexOf(':', xml.indexOf(':', xml.indexOf(':', start) + 1) + 1)).split(':').map(Number);
      if (seq !== expectedSeq[writer!]) misordered++;
      expectedSeq[writer!] = seq! + 1;
      histogram.recordMillis(now - stamp!);
      read++;
    }
  });
  let pacer: NodeJS.Timeout | undefined;
  if (rate === undefined) {
    // Each writer keeps `window` appends unconfirmed, in order, as a node forwarding stanzas does.
    const loop = async (writer: number): Promise<void> => {
      const inFlight = new Set<Promise<void>>();
      while (sending) {
        while (inFlight.size < params.window && sending) {
          const done = append(writer, performance.now());
          inFlight.add(done);
          void done.finally(() => inFlight.delete(done));
        }
        await Promise.race(inFlight);
      }
    };
    for (let writer = 0; writer < params.writers; writer++) void loop(writer);
  } else {
    const startAt = performance.now();
    let scheduled = 0;
    pacer = setInterval(() => {
      const now = performance.now();
      // Open loop: whatever is due goes out, writers in turn, each entry stamped with its scheduled time.
      for (let due = startAt + (scheduled * 1000) / rate; due <= now && sending; due = startAt + (scheduled * 1000) / rate) {
        void append(scheduled % params.writers, due);
        scheduled++;
      }
    }, 1);
  }
  await sleep(params.warmupSeconds * 1000);
  histogram = new LatencyHistogram();
  const [appendedStart, readStart] = [appended, read];
  const serverStart = readProcSnapshot(server.pid);
  const clientStart = process.cpuUsage();
  await sleep(params.seconds * 1000);
  const serverEnd = readProcSnapshot(server.pid);
  const client = process.cpuUsage(clientStart);
  const [appendedEnd, readEnd] = [appended, read];
  sending = false;
  clearInterval(pacer);
  await Promise.race([Promise.allSettled([...pending]), sleep(5000)]);
  const seconds = (serverEnd.atMillis - serverStart.atMillis) / 1000;
  const serverCores = (serverEnd.cpuSeconds - serverStart.cpuSeconds) / seconds;
  const readPerSecond = (readEnd - readStart) / seconds;
  return {
    backend,
    round,
    load: rate === undefined ? `window ${params.window}` : `${rate}/s`,
    appendedPerSecond: (appendedEnd - appendedStart) / seconds,
    readPerSecond,
    perServerCpuSecond: readPerSecond / serverCores,
    serverCores,
    clientCores: (client.user + client.system) / 1e6 / seconds,
    latencyMs: { p50: histogram.percentileMillis(0.5), p99: histogram.percentileMillis(0.99), max: histogram.maxMillis() },
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    misordered,
  };
}

function report(runs: InboxRun[]): void {
  process.stdout.write(`\ncluster-inbox: ${params.writers} writers, ${params.bytes}-byte entries, ${params.seconds} s measured after ${params.warmupSeconds} s warm-up; one reader, batches of up to 256 acknowledged once handled\n\n`);
  const rows = runs.map((run) => [run.backend, String(run.round), run.load, fixed(run.appendedPerSecond, 0), fixed(run.readPerSecond, 0), fixed(run.perServerCpuSecond, 0), fixed(run.serverCores, 2), fixed(run.clientCores, 2), fixed(run.latencyMs.p50, 2), fixed(run.latencyMs.p99, 2), fixed(run.latencyMs.max, 1), `${run.errors}/${run.misordered}`]);
  process.stdout.write(textTable(['backend', 'run', 'load', 'appended/s', 'read/s', 'per server CPU-s', 'server cores', 'client cores', 'p50 ms', 'p99 ms', 'max ms', 'err/misordered'], rows) + '\n');
  if (params.repeat > 1) {
    const show = (values: number[], digits: number) => {
      const spread = spreadOf(values);
      return `${fixed(spread.median, digits)} (${fixed(spread.min, digits)}-${fixed(spread.max, digits)})`;
    };
    const groups = [...new Set(runs.map((run) => `${run.backend}\t${run.load}`))].map((key) => runs.filter((run) => `${run.backend}\t${run.load}` === key));
    process.stdout.write('\nmedian (min-max) over the rounds\n\n');
    process.stdout.write(textTable(['backend', 'load', 'read/s', 'per server CPU-s', 'server cores', 'p50 ms', 'p99 ms'], groups.map((group) => [group[0]!.backend, group[0]!.load, show(group.map((run) => run.readPerSecond), 0), show(group.map((run) => run.perServerCpuSecond), 0), show(group.map((run) => run.serverCores), 2), show(group.map((run) => run.latencyMs.p50), 2), show(group.map((run) => run.latencyMs.p99), 2)])) + '\n');
  }
  if (runs.some((run) => run.errors + run.misordered > 0)) process.stdout.write('\n! some appends failed or entries arrived out of order\n');
  for (const run of runs) if (run.firstError) process.stdout.write(`  ${run.backend} ${run.load}, round ${run.round}: ${run.errors} appends failed, the first with: ${run.firstError}\n`);
  process.stdout.write(`\n${Object.entries(versions()).map(([name, version]) => `${name}: ${version}`).join('\n')}\n`);
}

function versions(): Record<string, string> {
  const run = (command: string, args: string[]) => {
    try {
      return execFileSync(command, args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return { 'redis-server': run('/usr/bin/redis-server', ['--version']), 'nats-server': run(NATS_SERVER, ['--version']), 'npm ioredis and nats': run(process.execPath, ['-p', "['ioredis', 'nats'].map((name) => name + ' ' + require(name + '/package.json').version).join(', ')"]) };
}

function fail(message: string): never {
  process.stderr.write(`cluster-inbox: ${message}\n`);
  process.exit(2);
}
