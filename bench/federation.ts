/**
 * Federation throughput, latency and cold-link setup time, inside a network namespace with its
 * own DNS (test/support/lab):
 *
 *   npm run bench -- federation [--pairs 50] [--window 10] [--seconds 10] [--links 7] [--repeat 1]
 *                               [--servers trellis-trellis,trellis-prosody,prosody-ejabberd,…] [--server-log debug]
 *
 * Needs root (it creates the namespace, then runs itself inside it with `ip netns exec`; the
 * namespace and everything in it go away at the end, whatever happens). Two servers, A on
 * 127.0.0.31 and B on 127.0.0.32, found through SRV records; certificates from a throwaway CA.
 * Each `--servers` pair names A's software and B's: trellis, prosody or ejabberd (bench/federation/).
 * 1. Throughput: `--pairs` users on each side in one ring, every message crossing a server link,
 *    at most `--window` in flight per sender.
 * 2. Cold links: for `--links` fresh domain pairs with CA certificates (SASL EXTERNAL) after
 *    STARTTLS, as many again over direct TLS (XEP-0368), and as many with self-signed
 *    certificates (dialback after STARTTLS), the time from a first message to its delivery.
 * With `--repeat N` every pair runs N rounds of throughput, the pairs taking turns within each
 * round on servers started afresh, and the report gives each pair's median; cold links are
 * measured in the first round.
 * Prints tables and writes JSON to bench/results/; docs/performance.md explains them.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measureColdLinks, type ColdLinkResult } from './federation/cold-links.ts';
import { startEjabberdPeer } from './federation/ejabberd-peer.ts';
import { runScenarioInLab } from './federation/lab-run.ts';
import { setUpLab, type BenchLab, type LabSide } from './federation/lab-setup.ts';
import type { FederationPeer, FederationPeerStarter } from './federation/peer.ts';
import { startProsodyPeer } from './federation/prosody-peer.ts';
import { measureFederatedThroughput, type ThroughputRun } from './federation/throughput.ts';
import { startTrellisPeer } from './federation/trellis-peer.ts';
import { clientTransport } from './load/tls-mode.ts';
import { writeResults } from './report/results.ts';
import { spreadOf, type Spread } from './report/stats.ts';
import { textTable } from './report/table.ts';
import { waitForQuietMachine } from './servers/proc-stats.ts';

const STARTERS: Record<string, FederationPeerStarter> = { trellis: startTrellisPeer, prosody: startProsodyPeer, ejabberd: startEjabberdPeer };
const ADDRESSES = { a: '127.0.0.31', b: '127.0.0.32' };
const PASSWORD = 'bench-password';
const RESULTS_DIR = join(import.meta.dirname, 'results');

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '50' },
    window: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    body: { type: 'string', default: '90' },
    links: { type: 'string', default: '7' },
    repeat: { type: 'string', default: '1' },
    servers: { type: 'string', default: 'trellis-trellis' },
    'quiet-wait': { type: 'string', default: '60' },
    'server-log': { type: 'string' },
  },
});
const params = {
  pairs: Number(values.pairs),
  window: Number(values.window),
  seconds: Number(values.seconds),
  warmupSeconds: Number(values.warmup),
  bodyBytes: Number(values.body),
  links: Number(values.links),
  repeat: Number(values.repeat),
  servers: values.servers.split(',').map((pair) => pair.trim()).filter(Boolean),
  quietWaitSeconds: Number(values['quiet-wait']),
  /** servers log at this level, and their logs are kept in bench/results/ */
  serverLog: values['server-log'] as 'warn' | 'info' | 'debug' | undefined,
};
if (params.serverLog !== undefined && !['warn', 'info', 'debug'].includes(params.serverLog)) fail('--server-log is warn, info or debug');
if (!Number.isInteger(params.pairs) || params.pairs < 1 || params.pairs > 1000) fail('--pairs is a count from 1 to 1000');
if (!Number.isInteger(params.window) || params.window < 1) fail('--window is a positive integer');
if (!(params.seconds > 0) || !(params.warmupSeconds >= 0)) fail('--seconds and --warmup are numbers of seconds');
if (!Number.isInteger(params.links) || params.links < 0 || params.links > 50) fail('--links is a count from 0 to 50');
if (!Number.isInteger(params.repeat) || params.repeat < 1 || params.repeat > 20) fail('--repeat is a count from 1 to 20');
for (const pair of params.servers) {
  const [a, b, extra] = pair.split('-');
  if (!a || !b || extra !== undefined || !STARTERS[a] || !STARTERS[b]) fail(`--servers takes pairs of ${Object.keys(STARTERS).join(', ')} such as trellis-trellis, trellis-prosody, ejabberd-trellis, not "${pair}"`);
}

await runScenarioInLab('federation', import.meta.filename, main);

interface PairResult {
  pair: string;
  round: number;
  versions: string[];
  throughput: ThroughputRun;
  external: ColdLinkResult[];
  directTls: ColdLinkResult[];
  dialback: ColdLinkResult[];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fed-bench-lab-'));
  const logDir = params.serverLog === undefined ? undefined : join(RESULTS_DIR, `federation-logs-${new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}`);
  if (logDir !== undefined) mkdirSync(logDir, { recursive: true });
  const lab = await setUpLab(dir, ADDRESSES, params.links);
  const results: PairResult[] = [];
  try {
    for (let round = 1; round <= params.repeat; round++) for (const pair of params.servers) {
      const [softwareA, softwareB] = pair.split('-') as [string, string];
      if (params.quietWaitSeconds > 0) await waitForQuietMachine(0.2, params.quietWaitSeconds * 1000);
      const label = params.repeat > 1 ? `[${round}/${params.repeat}] ${pair}` : pair;
      process.stderr.write(`${label}: starting ${softwareA} on ${ADDRESSES.a} and ${softwareB} on ${ADDRESSES.b}\n`);
      // One folder per pair and round: the same software on the same side would overwrite the last pair's log.
      const pairLogDir = logDir === undefined ? undefined : join(logDir, params.repeat > 1 ? `${pair}-${round}` : pair);
      if (pairLogDir !== undefined) mkdirSync(pairLogDir, { recursive: true });
      const usernames = Array.from({ length: params.pairs }, (_, index) => `u${index + 1}`);
      const start = (software: string, side: LabSide, name: string) =>
        STARTERS[software]!({
          name,
          address: side.address,
          hosts: [
            { domain: side.throughputDomain, certFile: side.certFile, keyFile: side.keyFile, usernames },
            ...[...side.externalDomains, ...side.directTlsDomains].map((domain) => ({ domain, certFile: side.certFile, keyFile: side.keyFile, usernames: ['u1'] })),
            ...side.dialbackDomains.map((domain) => ({ domain, usernames: ['u1'] })),
          ],
          password: PASSWORD,
          caFile: lab.caFile,
          resolver: lab.dns.resolver,
          logLevel: params.serverLog,
          keepLogIn: pairLogDir,
        });
      const peers: FederationPeer[] = [];
      try {
        peers.push(await start(softwareA, lab.a, `${softwareA}-a`));
        peers.push(await start(softwareB, lab.b, `${softwareB}-b`));
        const [a, b] = peers as [FederationPeer, FederationPeer];
        // Cold links first, while nothing else has touched DNS or the servers' link tables; in the first round only.
        const cold = async (kind: 'externalDomains' | 'directTlsDomains' | 'dialbackDomains', what: string) => {
          if (round > 1) return [];
          const links = await measureColdLinks(coldPairs(lab, a, b, kind), PASSWORD);
          process.stderr.write(`${label}: cold links with ${what}: ${links.map((link) => link.coldMs.toFixed(1)).join(', ')} ms\n`);
          return links;
        };
        const external = await cold('externalDomains', 'SASL EXTERNAL');
        const directTls = await cold('directTlsDomains', 'SASL EXTERNAL over direct TLS');
        const dialback = await cold('dialbackDomains', 'dialback');
        const throughput = await measureFederatedThroughput(a, b, {
          domainA: lab.a.throughputDomain,
          domainB: lab.b.throughputDomain,
          usernames,
          password: PASSWORD,
          window: params.window,
          bodyBytes: params.bodyBytes,
          maxMessages: 50_000_000,
          phases: { warmupMs: params.warmupSeconds * 1000, measureMs: params.seconds * 1000, drainMs: 5000 },
        });
        process.stderr.write(`${label}: ${Math.round(throughput.deliveredPerSecond)} msg/s, p50 ${throughput.latencyMs.p50.toFixed(1)} ms\n`);
        results.push({ pair, round, versions: [a.software, b.software], throughput, external, directTls, dialback });
      } finally {
        await Promise.all(peers.map((peer) => peer.stop()));
      }
    }
  } finally {
    await lab.dns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  printReport(results);
  if (logDir !== undefined) process.stdout.write(`\nserver logs: ${logDir}\n`);
  // `tls`: whether the clients used TLS (server links always do), which `summary --latest` picks by.
  process.stdout.write(`\nresults: ${writeResults('federation', { params, medians: throughputMedians(results), results })}\n`);
}

/** Each pair's median throughput over its rounds, with the spread. */
function throughputMedians(results: PairResult[]): Record<string, { rounds: number; deliveredPerSecond: Spread; cores: Spread[] }> {
  const medians: Record<string, { rounds: number; deliveredPerSecond: Spread; cores: Spread[] }> = {};
  for (const pair of params.servers) {
    const runs = results.filter((result) => result.pair === pair).map((result) => result.throughput);
    if (runs.length === 0) continue;
    medians[pair] = {
      rounds: runs.length,
      deliveredPerSecond: spreadOf(runs.map((run) => run.deliveredPerSecond)),
      cores: [0, 1].map((side) => spreadOf(runs.map((run) => run.serverCores[side] ?? NaN))),
    };
  }
  return medians;
}

function coldPairs(lab: BenchLab, a: FederationPeer, b: FederationPeer, kind: 'externalDomains' | 'directTlsDomains' | 'dialbackDomains') {
  return lab.a[kind].map((domain, index) => ({
    from: { peer: a, domain, username: 'u1' },
    to: { peer: b, domain: lab.b[kind][index]!, username: 'u1' },
  }));
}

function printReport(results: PairResult[]): void {
  const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
  process.stdout.write(`\nfederated messaging: ${params.pairs} users per server in one ring (every message crosses a server link, both directions), window ${params.window}, ${params.bodyBytes}-byte bodies, ${params.seconds} s after ${params.warmupSeconds} s warm-up, clients on ${clientTransport()}, TLS + SASL EXTERNAL between the servers\n\n`);
  process.stdout.write(
    textTable(
      ['servers', 'round', 'clients', 'msg/s', 'msg/CPU-s', 'cores A+B', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'client CPU %', 'other', 'err/lost'],
      results.map(({ pair, round, throughput: run }) => [
        pair,
        String(round),
        String(run.clients),
        fixed(run.deliveredPerSecond, 0),
        fixed(run.deliveredPerServerCpuSecond, 0),
        run.serverCores.map((cores) => fixed(cores, 2)).join('+'),
        fixed(run.latencyMs.p50, 2),
        fixed(run.latencyMs.p95, 2),
        fixed(run.latencyMs.p99, 2),
        fixed(run.latencyMs.max, 1),
        fixed(run.clientCpuPercent, 0),
        fixed(run.otherCores, 2),
        `${run.errors + run.misordered}/${run.lost}`,
      ]),
    ) + '\n',
  );
  if (params.repeat > 1) {
    process.stdout.write(`\nmedian (min-max) per pair over its ${params.repeat} rounds\n\n`);
    const spread = (value: Spread, digits: number) => `${fixed(value.median, digits)} (${fixed(value.min, digits)}-${fixed(value.max, digits)})`;
    process.stdout.write(
      textTable(
        ['servers', 'rounds', 'msg/s', 'cores A', 'cores B'],
        Object.entries(throughputMedians(results)).map(([pair, median]) => [pair, String(median.rounds), spread(median.deliveredPerSecond, 0), spread(median.cores[0]!, 2), spread(median.cores[1]!, 2)]),
      ) + '\n',
    );
  }
  process.stdout.write(`\ncold links: first message on a link between two fresh domains, to delivery (${params.links} links each); warm: the next message on it\n\n`);
  const coldRow = (pair: string, method: string, links: ColdLinkResult[]) => {
    const cold = spreadOf(links.map((link) => link.coldMs));
    const warm = spreadOf(links.map((link) => link.warmMs));
    return [pair, method, `${links.filter((link) => Number.isFinite(link.coldMs)).length}/${links.length}`, fixed(cold.median, 1), `${fixed(cold.min, 1)}-${fixed(cold.max, 1)}`, fixed(warm.median, 2)];
  };
  process.stdout.write(
    textTable(
      ['servers', 'authentication', 'delivered', 'cold p50 ms', 'cold min-max ms', 'warm p50 ms'],
      results
        .filter(({ round }) => round === 1)
        .flatMap(({ pair, external, directTls, dialback }) => [coldRow(pair, 'STARTTLS + SASL EXTERNAL', external), coldRow(pair, 'direct TLS + SASL EXTERNAL', directTls), coldRow(pair, 'STARTTLS + dialback', dialback)]),
    ) + '\n',
  );
  for (const { pair, external, directTls, dialback } of results) {
    for (const link of [...external, ...directTls, ...dialback]) if (link.failure !== undefined) process.stdout.write(`\n! ${pair} ${link.fromDomain} -> ${link.toDomain}: ${link.failure.slice(0, 300)}`);
  }
  process.stdout.write('\n');
}

function fail(message: string): never {
  process.stderr.write(`federation: ${message}\n`);
  process.exit(2);
}
