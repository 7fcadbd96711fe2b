/**
 * One measured messaging run against a server that is already started: generators log the
 * clients in, the traffic warms up, and during the measured window the server's CPU time and
 * memory are read from /proc while the generators record deliveries, latency and their own CPU.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSecondsBetween, readCpuSeconds, readMachineCpu, readProcSnapshot, RssSampler } from '../servers/proc-stats.ts';
import type { ServerUnderTest } from '../servers/server-under-test.ts';
import { GeneratorPool } from './generators.ts';
import type { GeneratorSetup } from './generator-protocol.ts';
import { LatencyHistogram, type HistogramData } from './histogram.ts';
import type { TrafficPhases } from './messaging-traffic.ts';

/** A generator above this share of one core is likely the bottleneck, not the server. */
export const GENERATOR_SATURATED_PERCENT = 90;

export interface MessagingRun {
  server: string;
  clients: number;
  generators: number;
  loginSeconds: number;
  deliveredPerSecond: number;
  /** deliveries per second of server CPU time (user + system, all threads) */
  deliveredPerServerCpuSecond: number;
  /** server CPU seconds per wall-clock second during the window */
  serverCores: number;
  /** resident memory after every client logged in, before traffic */
  serverRssAfterLoginBytes: number;
  serverRssPeakBytes: number;
  latencyMs: Latency;
  /** with several nodes: messages between clients of one node, and between clients of different nodes */
  sameNodeLatencyMs?: Latency;
  crossNodeLatencyMs?: Latency;
  /** with a server of several parts: each part's CPU seconds per wall-clock second (they add up to serverCores) */
  partCores?: Record<string, number>;
  /** each generator's CPU time as a percentage of one core over the window */
  generatorCpuPercent: number[];
  /**
   * cores busy on the machine outside the server and the generators (other processes, kernel
   * threads): anything well above zero means the figures are disturbed by a neighbour
   */
  otherCores: number;
  generatorSaturated: boolean;
  sent: number;
  /** messages sent per second during the measured window (the offered rate a fixed-rate run achieved) */
  sentPerSecond: number;
  /** messages sent and not yet received, over all generators, at the start and end of the measured window */
  backlogAtStart: number;
  backlogAtEnd: number;
  errors: number;
  misordered: number;
  lost: number;
}

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Tracks the pool of the run under way so that an interrupted benchmark can kill it. */
let activePool: GeneratorPool | undefined;

export function killActiveGenerators(): void {
  activePool?.kill();
}

export async function measureMessagingRun(server: ServerUnderTest, setup: GeneratorSetup, generators: number, phases: TrafficPhases): Promise<MessagingRun> {
  const { pool, loginMillis } = await GeneratorPool.start(generators, setup);
  activePool = pool;
  try {
    const afterLogin = readProcSnapshot(server.pid);
    const rss = new RssSampler(server.pid);
    const parts = server.parts ?? [{ name: server.name, pids: () => [server.pid] }];
    const traffic = pool.run(phases);
    // Keep a failure from being reported as unhandled while the windows below are timed.
    traffic.catch(() => {});
    await sleep(phases.warmupMs);
    const partPids = parts.map((part) => part.pids());
    const partsStart = partPids.map(readCpuSeconds);
    const windowStart = readProcSnapshot(server.pid);
    const machineStart = readMachineCpu();
    await sleep(phases.measureMs);
    const windowEnd = readProcSnapshot(server.pid);
    const machineEnd = readMachineCpu();
    const partsEnd = partPids.map(readCpuSeconds);
    const results = await traffic;
    const peakRss = rss.stop();

    const histogram = merged(results.map((result) => result.histogram));
    const delivered = results.reduce((sum, result) => sum + result.delivered, 0);
    const measuredSeconds = results.reduce((sum, result) => sum + result.measuredMillis, 0) / results.length / 1000;
    const deliveredPerSecond = delivered / measuredSeconds;
    const windowSeconds = (windowEnd.atMillis - windowStart.atMillis) / 1000;
    const partCores = Object.fromEntries(parts.map((part, index) => [part.name, cpuSecondsBetween(partsStart[index]!, partsEnd[index]!) / windowSeconds]));
    const serverCores = Object.values(partCores).reduce((sum, cores) => sum + cores, 0);
    const sameNode = results.flatMap((result) => result.sameNodeHistogram ?? []);
    const crossNode = results.flatMap((result) => result.crossNodeHistogram ?? []);
    const generatorCpuPercent = results.map((result) => ((result.cpuUserMicros + result.cpuSystemMicros) / 1000 / result.measuredMillis) * 100);
    const machineCores = (machineEnd.busySeconds - machineStart.busySeconds) / ((machineEnd.atMillis - machineStart.atMillis) / 1000);
    const generatorCores = generatorCpuPercent.reduce((sum, percent) => sum + percent / 100, 0);
    return {
      server: server.name,
      clients: setup.usernames.length,
      generators,
      loginSeconds: loginMillis / 1000,
      deliveredPerSecond,
      deliveredPerServerCpuSecond: deliveredPerSecond / serverCores,
      serverCores,
      serverRssAfterLoginBytes: afterLogin.rssBytes,
      serverRssPeakBytes: Math.max(peakRss, windowEnd.rssBytes),
      latencyMs: latencyOf(histogram),
      ...(sameNode.length > 0 ? { sameNodeLatencyMs: latencyOf(merged(sameNode)), crossNodeLatencyMs: latencyOf(merged(crossNode)) } : {}),
      ...(server.parts ? { partCores } : {}),
      generatorCpuPercent,
      generatorSaturated: generatorCpuPercent.some((percent) => percent > GENERATOR_SATURATED_PERCENT),
      otherCores: Math.max(0, machineCores - serverCores - generatorCores),
      sent: results.reduce((sum, result) => sum + result.sent, 0),
      sentPerSecond: results.reduce((sum, result) => sum + result.sentInWindow, 0) / measuredSeconds,
      backlogAtStart: results.reduce((sum, result) => sum + result.backlogAtStart, 0),
      backlogAtEnd: results.reduce((sum, result) => sum + result.backlogAtEnd, 0),
      errors: results.reduce((sum, result) => sum + result.errors, 0),
      misordered: results.reduce((sum, result) => sum + result.misordered, 0),
      lost: results.reduce((sum, result) => sum + result.lost, 0),
    };
  } finally {
    activePool = undefined;
    await pool.close().catch(() => pool.kill());
  }
}

function merged(histograms: HistogramData[]): LatencyHistogram {
  const histogram = new LatencyHistogram();
  for (const data of histograms) histogram.add(data);
  return histogram;
}

function latencyOf(histogram: LatencyHistogram): Latency {
  return { p50: histogram.percentileMillis(0.5), p95: histogram.percentileMillis(0.95), p99: histogram.percentileMillis(0.99), max: histogram.maxMillis() };
}
