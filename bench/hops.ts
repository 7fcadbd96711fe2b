/**
 * Latency each relaying hop adds, at a fixed offered rate (docs/performance.md, "Latency per hop"):
 *
 *   npm run bench -- hops [--rate 5000] [--warmup 10] [--seconds 20] [--pairs 20] [--rounds 1]
 *                         [--cases direct,forwarded,chain,prosody,ejabberd] [--profile] [--keep-logs] [--quiet-wait 0]
 *
 * In a network namespace of its own (needs root; lab-run.ts), with TLS and SASL EXTERNAL on every
 * server link:
 * - direct: Trellis leaf A and leaf D linked directly;
 * - forwarded: the same link through two processes that only move bytes, where the chain has its
 *   edges (hops/forwarder.ts): what two more processes on the path cost on this machine;
 * - chain: leaf A → edge B → edge C → leaf D, the boundary of docs/peering.md with every
 *   per-rule check on at the edges (hops/chain-configs.ts);
 * - prosody, ejabberd: two servers of that kind linked directly (they do not relay between
 *   servers), found through the lab's SRV records, as in the federation benchmark: the reference
 *   for the direct figure.
 * `--pairs` users on each leaf log in, alternating in one ring (a1, d1, a2, …), so every message
 * crosses the whole path, half of them each way; together they send `--rate` messages per second
 * on a schedule (open loop: a late send counts as latency). Before the clock starts, one message
 * each way sets up the links (its time is reported as the cold path). Latency is from the
 * scheduled send to the recipient's read; added per relaying hop is (chain − direct) / 2 for
 * each percentile, and per forwarding process (forwarded − direct) / 2. `--profile` writes a CPU profile of edge B to bench/results/, and `--keep-logs`
 * keeps every server's log there.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measureColdLinks } from './federation/cold-links.ts';
import { startEjabberdPeer } from './federation/ejabberd-peer.ts';
import { setUpLab, type BenchLab } from './federation/lab-setup.ts';
import { runScenarioInLab } from './federation/lab-run.ts';
import type { FederationPeer, FederationPeerStarter } from './federation/peer.ts';
import { startProsodyPeer } from './federation/prosody-peer.ts';
import { measureFederatedThroughput, type ThroughputRun } from './federation/throughput.ts';
import { DOMAINS } from './hops/chain-configs.ts';
import { startTopology, writeChainCertificates } from './hops/topology.ts';
import { writeResults } from './report/results.ts';
import { fixed, textTable } from './report/table.ts';
import { waitForQuietMachine } from './servers/proc-stats.ts';

const CASES = ['direct', 'forwarded', 'chain', 'prosody', 'ejabberd'] as const;
type Case = (typeof CASES)[number];
const PEERS: Record<'prosody' | 'ejabberd', FederationPeerStarter> = { prosody: startProsodyPeer, ejabberd: startEjabberdPeer };
/** Prosody and ejabberd listen here (the lab's SRV records name them); the Trellis servers on 127.0.74.1-4 */
const PEER_ADDRESSES = { a: '127.0.74.11', b: '127.0.74.12' };
const PASSWORD = 'bench-password';
/** the target for the latency one relaying hop adds at p99 */
const TARGET_P99_PER_HOP_MS = 1;
const RESULTS_DIR = join(import.meta.dirname, 'results');

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    warmup: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '20' },
    pairs: { type: 'string', default: '20' },
    body: { type: 'string', default: '90' },
    rounds: { type: 'string', default: '1' },
    cases: { type: 'string', default: CASES.join(',') },
    profile: { type: 'boolean', default: false },
    'keep-logs': { type: 'boolean', default: false },
    'quiet-wait': { type: 'string', default: '0' },
  },
});
const params = {
  ratePerSecond: Number(values.rate),
  warmupSeconds: Number(values.warmup),
  seconds: Number(values.seconds),
  pairs: Number(values.pairs),
  bodyBytes: Number(values.body),
  rounds: Number(values.rounds),
  cases: values.cases.split(',').map((name) => name.trim()).filter(Boolean) as Case[],
  profile: values.profile,
  keepLogs: values['keep-logs'],
  quietWaitSeconds: Number(values['quiet-wait']),
};
if (!(params.ratePerSecond > 0 && params.ratePerSecond <= 100_000)) fail('--rate is messages per second, at most 100000');
if (!(params.seconds > 0 && params.seconds <= 600) || !(params.warmupSeconds >= 0 && params.warmupSeconds <= 600)) fail('--seconds and --warmup are seconds, at most 600');
if (!Number.isInteger(params.pairs) || params.pairs < 2 || params.pairs > 500) fail('--pairs is a count from 2 to 500');
if (!Number.isInteger(params.rounds) || params.rounds < 1 || params.rounds > 10) fail('--rounds is a count from 1 to 10');
if (!(params.bodyBytes >= 40 && params.bodyBytes <= 1500)) fail('--body is from 40 to 1500 bytes (the edges refuse messages over 2048)');
if (params.cases.length === 0 || params.cases.some((name) => !CASES.includes(name))) fail(`--cases is a list of ${CASES.join(', ')}`);
if (!(params.quietWaitSeconds >= 0)) fail('--quiet-wait is seconds');

/** deliveries (and sends) of at least this share of the offered rate count as keeping up, as in the fixed-rate scenario */
const KEPT_UP_SHARE = 0.98;
/** backlog growth over the window, in seconds of offered traffic, beyond which the servers fell behind */
const BACKLOG_GROWTH_SECONDS = 0.1;

interface CaseRun {
  case: Case;
  round: number;
  /** names of the processes in the order of `cores`: A, D, then the relays */
  processes: string[];
  cores: number[];
  coldPathMs: number[];
  run: ThroughputRun;
  loadAverage: { before: string; after: string };
  /** empty when the servers kept up with the offered rate; else why not */
  behind: string[];
}

function behindOf(run: ThroughputRun): string[] {
  const behind: string[] = [];
  if (run.sentPerSecond < KEPT_UP_SHARE * params.ratePerSecond) behind.push('sent late');
  if (run.deliveredPerSecond < KEPT_UP_SHARE * params.ratePerSecond) behind.push('delivered < 98%');
  if (run.backlogGrowth > BACKLOG_GROWTH_SECONDS * params.ratePerSecond) behind.push('backlog grew');
  if (run.errors + run.misordered + run.lost > 0) behind.push('bounced or lost');
  return behind;
}

await runScenarioInLab('hops', import.meta.filename, main);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hops-bench-'));
  const usernames = Array.from({ length: params.pairs }, (_, index) => `u${index + 1}`);
  const needsLab = params.cases.some((name) => name === 'prosody' || name === 'ejabberd');
  const lab = needsLab ? await setUpLab(dir, PEER_ADDRESSES, 0) : undefined;
  const runs: CaseRun[] = [];
  const profileDir = join(RESULTS_DIR, `hops-profile-${stamp()}`);
  const logDir = join(RESULTS_DIR, `hops-logs-${stamp()}`);
  try {
    // apart from the lab's own CA and certificates, which Prosody and ejabberd use
    const chainDir = join(dir, 'chain');
    mkdirSync(chainDir);
    const files = await writeChainCertificates(chainDir);
    for (let round = 1; round <= params.rounds; round++) {
      for (const name of params.cases) {
        if (params.quietWaitSeconds > 0) await waitForQuietMachine(0.2, params.quietWaitSeconds * 1000);
        const before = loadAverage();
        process.stderr.write(`${name}, round ${round}: starting (load average ${before})\n`);
        const profiling = params.profile && name === 'chain';
        if (profiling) mkdirSync(profileDir, { recursive: true });
        const keepLogIn = params.keepLogs ? join(logDir, `${name}-${round}`) : undefined;
        if (keepLogIn !== undefined) mkdirSync(keepLogIn, { recursive: true });
        const servers =
          name === 'direct' || name === 'forwarded' || name === 'chain'
            ? await startTopology(name, { files, usernames, password: PASSWORD, edgeNodeOptions: profiling ? `--cpu-prof --cpu-prof-dir=${profileDir}` : undefined, keepLogIn })
            : await startPeers(name, lab!, usernames, keepLogIn);
        try {
          const domains = name === 'direct' || name === 'forwarded' || name === 'chain' ? { a: DOMAINS.a, d: DOMAINS.d } : { a: lab!.a.throughputDomain, d: lab!.b.throughputDomain };
          const cold = await measureColdLinks(
            [
              { from: { peer: servers.a, domain: domains.a, username: 'u1' }, to: { peer: servers.d, domain: domains.d, username: 'u1' } },
              { from: { peer: servers.d, domain: domains.d, username: 'u2' }, to: { peer: servers.a, domain: domains.a, username: 'u2' } },
            ],
            PASSWORD,
          );
          const failed = cold.find((link) => link.failure !== undefined);
          if (failed) throw new Error(`${name}: a first message from ${failed.fromDomain} to ${failed.toDomain} did not arrive: ${failed.failure}`);
          const run = await measureFederatedThroughput(servers.a, servers.d, {
            domainA: domains.a,
            domainB: domains.d,
            usernames,
            password: PASSWORD,
            window: 1,
            ratePerSecond: params.ratePerSecond,
            relayPids: servers.relays.map((relay) => relay.pid),
            bodyBytes: params.bodyBytes,
            // twice the whole schedule: a bound the schedule itself never reaches
            maxMessages: Math.ceil(2 * params.ratePerSecond * (params.warmupSeconds + params.seconds + 1)),
            phases: { warmupMs: params.warmupSeconds * 1000, measureMs: params.seconds * 1000, drainMs: 5000 },
          });
          const processes = [servers.a, servers.d, ...servers.relays].map((peer) => peer.name);
          runs.push({ case: name, round, processes, cores: [...run.serverCores, ...run.relayCores], coldPathMs: cold.map((link) => link.coldMs), run, loadAverage: { before, after: loadAverage() }, behind: behindOf(run) });
          process.stderr.write(`${name}, round ${round}: p50 ${run.latencyMs.p50.toFixed(2)} ms, p99 ${run.latencyMs.p99.toFixed(2)} ms, ${Math.round(run.deliveredPerSecond)} msg/s\n`);
        } finally {
          await servers.stop();
        }
      }
    }
  } finally {
    await lab?.dns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  printReport(runs);
  if (params.keepLogs) process.stdout.write(`\nserver logs: ${logDir}\n`);
  if (params.profile) process.stdout.write(`\nedge B's CPU profile: ${profileDir} (node bench/tools/cpuprofile-top.ts FILE --since ${params.warmupSeconds + 5})\n`);
  process.stdout.write(`\nresults: ${writeResults('hops', { params, targetP99PerHopMs: TARGET_P99_PER_HOP_MS, runs })}\n`);
}

async function startPeers(software: 'prosody' | 'ejabberd', lab: BenchLab, usernames: string[], keepLogIn: string | undefined): Promise<{ a: FederationPeer; d: FederationPeer; relays: FederationPeer[]; stop(): Promise<void> }> {
  const started: FederationPeer[] = [];
  const stop = () => Promise.all(started.map((peer) => peer.stop())).then(() => {});
  try {
    for (const side of [lab.a, lab.b]) {
      started.push(
        await PEERS[software]({
          name: `${software}-${side === lab.a ? 'a' : 'd'}`,
          address: side.address,
          hosts: [{ domain: side.throughputDomain, certFile: side.certFile, keyFile: side.keyFile, usernames }],
          password: PASSWORD,
          caFile: lab.caFile,
          resolver: lab.dns.resolver,
          keepLogIn,
        }),
      );
    }
    return { a: started[0]!, d: started[1]!, relays: [], stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function printReport(runs: CaseRun[]): void {
  process.stdout.write(
    `\nlatency per hop: ${params.pairs} users on each leaf in one ring (every message crosses the whole path, half each way), ` +
      `${params.ratePerSecond} msg/s offered on a schedule, ${params.bodyBytes}-byte bodies, ${params.seconds} s measured after ${params.warmupSeconds} s warm-up; ` +
      `clients on plain TCP, every server link TLS + SASL EXTERNAL\n\n`,
  );
  process.stdout.write(
    textTable(
      ['case', 'round', 'sent/s', 'msg/s', 'kept up', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'cores (A, D, B, C)', 'client %', 'other', 'backlog +', 'err/lost', 'cold path ms', 'load avg before/after'],
      runs.map(({ run, ...entry }) => [
        entry.case,
        String(entry.round),
        fixed(run.sentPerSecond, 0),
        fixed(run.deliveredPerSecond, 0),
        entry.behind.length === 0 ? 'yes' : `no: ${entry.behind.join(', ')}`,
        fixed(run.latencyMs.p50, 2),
        fixed(run.latencyMs.p99, 2),
        fixed(run.latencyMs.p999, 2),
        fixed(run.latencyMs.max, 1),
        entry.cores.map((cores) => fixed(cores, 2)).join(' '),
        fixed(run.clientCpuPercent, 0),
        fixed(run.otherCores, 2),
        String(run.backlogGrowth),
        `${run.errors + run.misordered}/${run.lost}`,
        entry.coldPathMs.map((ms) => fixed(ms, 1)).join(' '),
        `${entry.loadAverage.before} / ${entry.loadAverage.after}`,
      ]),
    ) + '\n',
  );
  const faulty = runs.filter(({ run }) => run.errors + run.misordered + run.lost > 0);
  for (const { case: name, round, run } of faulty) {
    process.stdout.write(`\n! ${name}, round ${round}: ${run.errors} bounced, ${run.misordered} out of order, ${run.lost} not arrived 5 s after the last send (lost or still queued): the latency figures leave them out\n`);
  }
  for (const [middle, what] of [
    ['chain', 'added per relaying hop: (chain − direct) / 2'],
    ['forwarded', 'added per forwarding process, the machine\'s own share of a hop: (forwarded − direct) / 2'],
  ] as const) {
    const perHop = [];
    for (let round = 1; round <= params.rounds; round++) {
      const direct = runs.find((run) => run.case === 'direct' && run.round === round);
      const through = runs.find((run) => run.case === middle && run.round === round);
      if (direct === undefined || through === undefined) continue;
      const added = (key: 'p50' | 'p99' | 'p999') => (through.run.latencyMs[key] - direct.run.latencyMs[key]) / 2;
      // Latencies of servers that fell behind measure their queues, not a hop.
      const meaningful = direct.behind.length === 0 && through.behind.length === 0;
      const verdict = !meaningful ? 'no figure: a case did not keep up' : added('p99') < TARGET_P99_PER_HOP_MS ? 'yes' : 'no';
      const shown = (key: 'p50' | 'p99' | 'p999') => (meaningful ? fixed(added(key), 3) : '-');
      perHop.push([String(round), shown('p50'), shown('p99'), shown('p999'), verdict]);
    }
    if (perHop.length === 0) continue;
    process.stdout.write(`\n${what}, percentile by percentile; target under ${TARGET_P99_PER_HOP_MS} ms at p99\n\n`);
    process.stdout.write(textTable(['round', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 under target'], perHop) + '\n');
  }
}

/** The 1, 5 and 15 minute load averages (proc(5)). */
function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function stamp(): string {
  return new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
}

function fail(message: string): never {
  process.stderr.write(`hops: ${message}\n`);
  process.exit(2);
}
