/**
 * Federated messaging between two servers: clients on both log in, alternating in one ring
 * (a1, b1, a2, b2, …) so that every message crosses a server-to-server link, half of them in
 * each direction, and run the traffic of bench/load/messaging-traffic.ts in this process:
 * closed loop (throughput), or open loop at `ratePerSecond` (latency at a fixed rate). Both
 * servers' CPU, that of any relaying processes between them (`relayPids`), and the machine's
 * are read from /proc over the window.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchClient } from '../load/bench-client.ts';
import { LatencyHistogram } from '../load/histogram.ts';
import { MessagingTraffic, type TrafficPhases } from '../load/messaging-traffic.ts';
import { readMachineCpu, readProcSnapshot } from '../servers/proc-stats.ts';
import { C2S_PORT, type FederationPeer } from './peer.ts';

export interface ThroughputOptions {
  domainA: string;
  domainB: string;
  usernames: string[];
  password: string;
  window: number;
  /** when set, the clients together send this many messages per second on a schedule (open loop) */
  ratePerSecond?: number;
  /** processes the messages cross between A and B (relaying servers), whose CPU is read too */
  relayPids?: number[];
  bodyBytes: number;
  maxMessages: number;
  phases: TrafficPhases;
}

export interface ThroughputRun {
  pair: string;
  clients: number;
  deliveredPerSecond: number;
  /** messages sent per second during the measured window */
  sentPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; p999: number; max: number };
  /** CPU seconds per wall second of each server over the window */
  serverCores: number[];
  /** the same for each of `relayPids`, in their order */
  relayCores: number[];
  /** deliveries per second of both servers' CPU time together */
  deliveredPerServerCpuSecond: number;
  /** this process (clients) in percent of one core */
  clientCpuPercent: number;
  /** cores busy outside the servers and this process */
  otherCores: number;
  /** messages sent and not yet received at the end of the window, less those at its start */
  backlogGrowth: number;
  errors: number;
  misordered: number;
  lost: number;
}

const LOGIN_CONCURRENCY = 16;

export async function measureFederatedThroughput(a: FederationPeer, b: FederationPeer, options: ThroughputOptions): Promise<ThroughputRun> {
  const clients: BenchClient[] = [];
  const login = (peer: FederationPeer, domain: string, username: string) =>
    BenchClient.login({ address: peer.address, port: C2S_PORT, domain, username, password: options.password, resource: 'bench', mechanism: 'SCRAM-SHA-1', timeoutMs: 30_000 });
  try {
    const ring: { peer: FederationPeer; domain: string; username: string }[] = options.usernames.flatMap((username) => [
      { peer: a, domain: options.domainA, username },
      { peer: b, domain: options.domainB, username },
    ]);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ring.length) {
        const index = next++;
        const { peer, domain, username } = ring[index]!;
        clients[index] = await login(peer, domain, username);
      }
    };
    await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, worker));
    const traffic = new MessagingTraffic(clients, { window: options.window, ratePerSecond: options.ratePerSecond, bodyBytes: options.bodyBytes, maxMessages: options.maxMessages });
    const running = traffic.run(options.phases);
    running.catch(() => {});
    await sleep(options.phases.warmupMs);
    const startA = readProcSnapshot(a.pid);
    const startB = readProcSnapshot(b.pid);
    const relayStarts = (options.relayPids ?? []).map((pid) => readProcSnapshot(pid));
    const machineStart = readMachineCpu();
    await sleep(options.phases.measureMs);
    const endA = readProcSnapshot(a.pid);
    const endB = readProcSnapshot(b.pid);
    const relayEnds = (options.relayPids ?? []).map((pid) => readProcSnapshot(pid));
    const machineEnd = readMachineCpu();
    const result = await running;

    const histogram = new LatencyHistogram();
    histogram.add(result.histogram);
    const deliveredPerSecond = result.delivered / (result.measuredMillis / 1000);
    const cores = (start: typeof startA, end: typeof endA) => (end.cpuSeconds - start.cpuSeconds) / ((end.atMillis - start.atMillis) / 1000);
    const serverCores = [cores(startA, endA), cores(startB, endB)];
    const relayCores = relayStarts.map((start, index) => cores(start, relayEnds[index]!));
    const clientCores = (result.cpuUserMicros + result.cpuSystemMicros) / 1000 / result.measuredMillis;
    const machineCores = (machineEnd.busySeconds - machineStart.busySeconds) / ((machineEnd.atMillis - machineStart.atMillis) / 1000);
    return {
      pair: `${a.software}-${b.software}`,
      clients: clients.length,
      deliveredPerSecond,
      sentPerSecond: result.sentInWindow / (result.measuredMillis / 1000),
      latencyMs: { p50: histogram.percentileMillis(0.5), p95: histogram.percentileMillis(0.95), p99: histogram.percentileMillis(0.99), p999: histogram.percentileMillis(0.999), max: histogram.maxMillis() },
      serverCores,
      relayCores,
      deliveredPerServerCpuSecond: deliveredPerSecond / (serverCores[0]! + serverCores[1]!),
      clientCpuPercent: clientCores * 100,
      otherCores: Math.max(0, machineCores - serverCores[0]! - serverCores[1]! - relayCores.reduce((sum, value) => sum + value, 0) - clientCores),
      backlogGrowth: result.backlogAtEnd - result.backlogAtStart,
      errors: result.errors,
      misordered: result.misordered,
      lost: result.lost,
    };
  } finally {
    await Promise.all(clients.map((client) => client?.close()));
  }
}
