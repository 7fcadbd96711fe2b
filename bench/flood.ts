/**
 * A flooding client and a flooding remote domain while other users chat, side by side:
 *
 *   npm run bench -- flood [--servers trellis,prosody] [--users 50] [--rate 2] [--warmup 3]
 *                          [--baseline 20] [--flood 30] [--floods local,remote] [--body 100]
 *                          [--max-stanzas 5000000] [--drain 5] [--quiet-wait 10]
 *                          [--prosody-limits debian|none] [--pin auto|none] [--keep-logs DIR]
 *
 * Needs root: like the federation scenario it runs itself inside a network namespace it creates,
 * with its own DNS and CA (bench/federation/lab-setup.ts), and removes it at the end. For each
 * server under test, on 127.0.0.31 serving `fa.test`, with a fresh remote Trellis on 127.0.0.32
 * serving `fb.test`:
 * - `--users` users log in and chat in pairs: each sends `--rate` pings a second to its partner,
 *   who answers each at once; the round trip is timed (bench/load/round-trips.ts);
 * - after `--warmup` s (not counted), a baseline phase of `--baseline` s without flood, then a flood
 *   phase of `--flood` s during which, each from a process of its own (bench/load/flood-process.ts),
 *   - `local`: a user of the server under test writes messages to another local user as fast as its
 *     socket takes them;
 *   - `remote`: a user of the remote Trellis does the same to a local user, so the remote server
 *     sends the flood over its server-to-server link (TLS, SASL EXTERNAL);
 * - the chatters' round-trip p50/p99 per phase (the target: p99 during the flood at most twice
 *   p99 before), what each flooder got the server to read (stanzas/s, bytes/s), what reached the
 *   flood's target, the server's peak RSS and its CPU per phase.
 * With `--pin auto` (the default) on a machine with two or more CPUs, the server under test and
 * the chatters run on CPU 0 and the remote Trellis and the flood processes on the others
 * (bench/servers/cpu-pinning.ts): they stand for other machines, and sharing the server's core
 * with them would measure the scheduler rather than the server. Every server is pinned alike.
 * Prosody runs with mod_limits as Debian's /etc/prosody/prosody.cfg.lua enables it (c2s 10kb/s,
 * s2sin 30kb/s; `--prosody-limits none` leaves it out); Trellis with its defaults. Every phase
 * and every flood is bounded in time (and each flood in stanzas); every process started is
 * stopped at the end. Prints one table and writes JSON to bench/results/; docs/performance.md
 * explains the figures.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startEjabberdPeer } from './federation/ejabberd-peer.ts';
import { runScenarioInLab } from './federation/lab-run.ts';
import { setUpLab, type BenchLab } from './federation/lab-setup.ts';
import { C2S_PORT, type FederationPeer, type FederationPeerStarter } from './federation/peer.ts';
import { DEBIAN_LIMITS, startProsodyPeer } from './federation/prosody-peer.ts';
import { startTrellisPeer } from './federation/trellis-peer.ts';
import { BenchClient } from './load/bench-client.ts';
import type { FloodReport, FloodSetup, FromFlood, ToFlood } from './load/flood-process.ts';
import { RoundTrips, type PhaseRoundTrips } from './load/round-trips.ts';
import { writeResults } from './report/results.ts';
import { fixed, textTable } from './report/table.ts';
import { debianVersion } from './servers/debian-package.ts';
import { benchTls } from './load/tls-mode.ts';
import { stopAllDaemons } from './servers/daemon.ts';
import { pinProcessTree, planCpus, type CpuPlan } from './servers/cpu-pinning.ts';
import { readMachineCpu, readProcSnapshot, RssSampler, waitForQuietMachine, type MachineCpu, type ProcSnapshot } from './servers/proc-stats.ts';

const STARTERS: Record<string, FederationPeerStarter> = { trellis: startTrellisPeer, prosody: startProsodyPeer, ejabberd: startEjabberdPeer };
const ADDRESSES = { a: '127.0.0.31', b: '127.0.0.32' };
const PASSWORD = 'bench-password';
const FLOOD_PROCESS = join(import.meta.dirname, 'load', 'flood-process.ts');
const REPO = join(import.meta.dirname, '..');
/** the target: p99 during the flood at most this many times p99 before it */
const P99_TARGET_RATIO = 2;
const LOGIN_CONCURRENCY = 16;
/** busy cores outside the processes of the run above which it counts as disturbed */
const OTHER_CORES_WARNING = 0.2;

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: 'trellis,prosody' },
    users: { type: 'string', default: '50' },
    rate: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '3' },
    baseline: { type: 'string', default: '20' },
    flood: { type: 'string', default: '30' },
    floods: { type: 'string', default: 'local,remote' },
    body: { type: 'string', default: '100' },
    'max-stanzas': { type: 'string', default: '5000000' },
    drain: { type: 'string', default: '5' },
    'quiet-wait': { type: 'string', default: '10' },
    'prosody-limits': { type: 'string', default: 'debian' },
    pin: { type: 'string', default: 'auto' },
    'keep-logs': { type: 'string' },
  },
});
const params = {
  servers: values.servers.split(',').map((name) => name.trim()).filter(Boolean),
  users: Number(values.users),
  pingsPerUserPerSecond: Number(values.rate),
  warmupSeconds: Number(values.warmup),
  baselineSeconds: Number(values.baseline),
  floodSeconds: Number(values.flood),
  floods: values.floods.split(',').map((name) => name.trim()).filter(Boolean) as FloodKind[],
  floodBodyBytes: Number(values.body),
  maxStanzasPerFlood: Number(values['max-stanzas']),
  drainSeconds: Number(values.drain),
  quietWaitSeconds: Number(values['quiet-wait']),
  /** Prosody's mod_limits as Debian ships it, or not loaded */
  prosodyLimits: values['prosody-limits'],
  /** where the server under test and the load run (see above); undefined when not pinned */
  cpus: values.pin === 'none' ? undefined : planCpus(),
  /** a directory the servers' logs are copied to when they stop */
  keepLogsIn: values['keep-logs'],
};
type FloodKind = 'local' | 'remote';
for (const name of params.servers) if (!STARTERS[name]) fail(`unknown server "${name}" (known: ${Object.keys(STARTERS).join(', ')})`);
if (!Number.isInteger(params.users) || params.users < 2 || params.users % 2 !== 0 || params.users > 1000) fail('--users is an even count from 2 to 1000');
if (!(params.pingsPerUserPerSecond > 0) || params.pingsPerUserPerSecond > 100) fail('--rate is pings per user per second, at most 100');
for (const name of ['warmup', 'baseline', 'flood', 'drain'] as const) if (!(Number(values[name]) >= 0) || Number(values[name]) > 600) fail(`--${name} is a number of seconds up to 600`);
if (!(params.baselineSeconds > 0) || !(params.floodSeconds > 0)) fail('--baseline and --flood must be positive');
if (params.floods.some((kind) => kind !== 'local' && kind !== 'remote')) fail('--floods lists local and/or remote');
if (!Number.isInteger(params.floodBodyBytes) || params.floodBodyBytes < 1 || params.floodBodyBytes > 10_000) fail('--body is a byte count from 1 to 10000');
if (!Number.isInteger(params.maxStanzasPerFlood) || params.maxStanzasPerFlood < 1) fail('--max-stanzas is a positive integer');
if (!(params.quietWaitSeconds >= 0)) fail('--quiet-wait is a number of seconds');
if (values.pin !== 'auto' && values.pin !== 'none') fail('--pin is auto (the server on CPU 0, the load on the others) or none');
if (params.prosodyLimits !== 'debian' && params.prosodyLimits !== 'none') fail('--prosody-limits is debian (mod_limits as Debian ships it) or none');

interface LatencySummary {
  sent: number;
  answered: number;
  errors: number;
  lost: number;
  p50: number;
  p99: number;
  max: number;
}

interface FloodResult {
  kind: FloodKind;
  sender: string;
  receiver: string;
  /** stanzas and bytes per second the sender's server read from the flooder */
  stanzasPerSecond: number;
  bytesPerSecond: number;
  /** stanzas per second that reached the flood's target during the flood */
  deliveredPerSecond: number;
  report: FloodReport;
}

interface FloodRun {
  server: string;
  version: string;
  settings: string[];
  baseline: LatencySummary;
  flood: LatencySummary;
  /** flood p99 / baseline p99, and whether it is within P99_TARGET_RATIO */
  p99Ratio: number;
  targetMet: boolean;
  floods: FloodResult[];
  serverRssPeakBytes: number;
  serverRssAfterBaselineBytes: number;
  remoteRssPeakBytes?: number;
  /** server CPU seconds per wall second */
  serverCoresBaseline: number;
  serverCoresFlood: number;
  remoteCoresFlood?: number;
  /** this process (the chatters) and the flood processes, in cores, during the flood */
  chattersCoresFlood: number;
  floodProcessCores: number;
  /** cores busy outside every process of the run, during the flood */
  otherCoresFlood: number;
  misread: number;
}

/** flood processes alive, killed on any exit */
const floodProcesses = new Set<ChildProcess>();

await runScenarioInLab('flood', import.meta.filename, main, stopEverything);

async function stopEverything(): Promise<void> {
  for (const child of floodProcesses) child.kill('SIGKILL');
  floodProcesses.clear();
  await stopAllDaemons();
}

async function main(): Promise<void> {
  // The chatters measure the server: they share its CPU, not the load's.
  pin(process.pid, 'server');
  const dir = mkdtempSync(join(tmpdir(), 'flood-bench-lab-'));
  const lab = await setUpLab(dir, ADDRESSES, 0);
  const runs: FloodRun[] = [];
  try {
    for (const software of params.servers) {
      if (params.quietWaitSeconds > 0) {
        const quiet = await waitForQuietMachine(OTHER_CORES_WARNING, params.quietWaitSeconds * 1000);
        if (quiet.busyCores >= OTHER_CORES_WARNING) process.stderr.write(`the machine is still busy (${quiet.busyCores.toFixed(2)} cores) after waiting ${params.quietWaitSeconds} s; running anyway\n`);
      }
      const run = await measure(software, lab);
      runs.push(run);
      process.stderr.write(`${software}: round trip p99 ${latency(run.baseline.p99, 1)} ms before, ${latency(run.flood.p99, 1)} ms during the flood\n`);
    }
  } finally {
    await lab.dns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  printReport(runs);
  process.stdout.write(`\nresults: ${writeResults('flood', { params, runs })}\n`);
}

async function measure(software: string, lab: BenchLab): Promise<FloodRun> {
  const chatterNames = Array.from({ length: params.users }, (_, index) => `u${index + 1}`);
  const local = params.floods.includes('local');
  const remote = params.floods.includes('remote');
  const peers: FederationPeer[] = [];
  const chatters: BenchClient[] = [];
  const floods: { kind: FloodKind; child: ChildProcess; setup: FloodSetup }[] = [];
  let rss: RssSampler | undefined;
  let remoteRss: RssSampler | undefined;
  let roundTrips: RoundTrips | undefined;
  try {
    process.stderr.write(`${software}: starting on ${lab.a.address} (${lab.a.throughputDomain})${remote ? `, the remote Trellis on ${lab.b.address} (${lab.b.throughputDomain})` : ''}\n`);
    const server = await STARTERS[software]!({
      name: `${software}-under-test`,
      address: lab.a.address,
      hosts: [{ domain: lab.a.throughputDomain, certFile: lab.a.certFile, keyFile: lab.a.keyFile, usernames: [...chatterNames, 'flooder', 'target', 'rtarget'] }],
      password: PASSWORD,
      caFile: lab.caFile,
      resolver: lab.dns.resolver,
      debianLimits: params.prosodyLimits === 'debian',
      keepLogIn: params.keepLogsIn,
    });
    peers.push(server);
    pin(server.pid, 'server');
    rss = new RssSampler(server.pid);
    const remotePeer = remote
      ? await startTrellisPeer({
          name: 'trellis-remote',
          address: lab.b.address,
          hosts: [{ domain: lab.b.throughputDomain, certFile: lab.b.certFile, keyFile: lab.b.keyFile, usernames: ['rflooder'] }],
          password: PASSWORD,
          caFile: lab.caFile,
          resolver: lab.dns.resolver,
          keepLogIn: params.keepLogsIn,
        })
      : undefined;
    if (remotePeer) {
      peers.push(remotePeer);
      pin(remotePeer.pid, 'load');
      remoteRss = new RssSampler(remotePeer.pid);
    }

    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chatterNames.length) {
        const index = next++;
        chatters[index] = await BenchClient.login({ address: server.address, port: C2S_PORT, domain: lab.a.throughputDomain, username: chatterNames[index]!, password: PASSWORD, resource: 'chat', mechanism: 'SCRAM-SHA-1', timeoutMs: 30_000 });
      }
    };
    await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, worker));

    const end = (peer: FederationPeer, domain: string, username: string) => ({ address: peer.address, port: C2S_PORT, domain, username });
    const common = { password: PASSWORD, bodyBytes: params.floodBodyBytes, maxStanzas: params.maxStanzasPerFlood, drainMs: params.drainSeconds * 1000 };
    if (local) floods.push({ kind: 'local', child: forkFlood(), setup: { ...common, sender: end(server, lab.a.throughputDomain, 'flooder'), receiver: end(server, lab.a.throughputDomain, 'target') } });
    if (remotePeer) floods.push({ kind: 'remote', child: forkFlood(), setup: { ...common, sender: end(remotePeer, lab.b.throughputDomain, 'rflooder'), receiver: end(server, lab.a.throughputDomain, 'rtarget') } });
    await Promise.all(floods.map(({ child, setup }) => ask(child, { type: 'setup', setup }, 'ready', 60_000)));
    process.stderr.write(`${software}: ${chatters.length} users logged in, ${floods.map((flood) => flood.kind).join(' and ') || 'no'} flood(s) ready; ${params.warmupSeconds} s warm-up, ${params.baselineSeconds} s baseline, ${params.floodSeconds} s flood\n`);

    roundTrips = new RoundTrips(chatters);
    roundTrips.start(params.pingsPerUserPerSecond);
    await phase(roundTrips, params.warmupSeconds * 1000);

    const baselinePhase = roundTrips.beginPhase();
    const baselineStart = readAll(server, remotePeer);
    await phase(roundTrips, params.baselineSeconds * 1000);
    const floodPhase = roundTrips.beginPhase();
    const baselineEnd = readAll(server, remotePeer);
    const chattersCpuStart = process.cpuUsage();
    await Promise.all(floods.map(({ child }) => ask(child, { type: 'start' }, 'started', 10_000)));
    await phase(roundTrips, params.floodSeconds * 1000);
    const floodEnd = readAll(server, remotePeer);
    const chattersCpu = process.cpuUsage(chattersCpuStart);
    roundTrips.stop();
    // Every flood process stops, cuts its flooder and counts deliveries for the drain time.
    const reports = Promise.all(floods.map(({ child }) => ask(child, { type: 'stop' }, 'report', params.drainSeconds * 1000 + 30_000)));
    const drainEnd = performance.now() + params.drainSeconds * 1000;
    while (roundTrips.outstanding > 0 && performance.now() < drainEnd) await sleep(50);
    const floodReports = (await reports).map((message) => message.report);

    const summary = (index: number): LatencySummary => summarise(roundTrips!.phase(index));
    const baseline = summary(baselinePhase);
    const flood = summary(floodPhase);
    const floodWallSeconds = (floodEnd.at.atMillis - baselineEnd.at.atMillis) / 1000;
    const cores = (start: ProcSnapshot, end: ProcSnapshot) => (end.cpuSeconds - start.cpuSeconds) / ((end.atMillis - start.atMillis) / 1000);
    const floodProcessCores = floodReports.reduce((sum, report) => sum + (report.cpuUserMicros + report.cpuSystemMicros) / 1e6, 0) / floodWallSeconds;
    const chattersCoresFlood = (chattersCpu.user + chattersCpu.system) / 1e6 / floodWallSeconds;
    const serverCoresFlood = cores(baselineEnd.server, floodEnd.server);
    const remoteCoresFlood = baselineEnd.remote && floodEnd.remote ? cores(baselineEnd.remote, floodEnd.remote) : undefined;
    const machineCoresFlood = (floodEnd.machine.busySeconds - baselineEnd.machine.busySeconds) / floodWallSeconds;
    const p99Ratio = flood.p99 / baseline.p99;
    return {
      server: software,
      ...describe(software),
      baseline,
      flood,
      p99Ratio,
      targetMet: p99Ratio <= P99_TARGET_RATIO,
      floods: floods.map(({ kind, setup }, index) => {
        const report = floodReports[index]!;
        const seconds = report.floodMillis / 1000;
        return {
          kind,
          sender: `${setup.sender.username}@${setup.sender.domain}`,
          receiver: `${setup.receiver.username}@${setup.receiver.domain}`,
          stanzasPerSecond: report.stanzasRead / seconds,
          bytesPerSecond: report.bytesRead / seconds,
          deliveredPerSecond: report.deliveredDuringFlood / seconds,
          report,
        };
      }),
      serverRssPeakBytes: rss.stop(),
      serverRssAfterBaselineBytes: baselineEnd.server.rssBytes,
      remoteRssPeakBytes: remoteRss?.stop(),
      serverCoresBaseline: cores(baselineStart.server, baselineEnd.server),
      serverCoresFlood,
      remoteCoresFlood,
      chattersCoresFlood,
      floodProcessCores,
      otherCoresFlood: Math.max(0, machineCoresFlood - serverCoresFlood - (remoteCoresFlood ?? 0) - chattersCoresFlood - floodProcessCores),
      misread: roundTrips.misread,
    };
  } finally {
    roundTrips?.stop();
    rss?.stop();
    remoteRss?.stop();
    await Promise.allSettled(floods.map(({ child }) => ask(child, { type: 'close' }, 'closed', 5000)));
    for (const { child } of floods) {
      child.kill('SIGKILL');
      floodProcesses.delete(child);
    }
    await Promise.allSettled(chatters.map((client) => client?.close()));
    await Promise.allSettled(peers.map((peer) => peer.stop()));
  }
}

function readAll(server: FederationPeer, remote: FederationPeer | undefined): { at: ProcSnapshot; server: ProcSnapshot; remote?: ProcSnapshot; machine: MachineCpu } {
  const snapshot = readProcSnapshot(server.pid);
  return { at: snapshot, server: snapshot, remote: remote ? readProcSnapshot(remote.pid) : undefined, machine: readMachineCpu() };
}

/**
 * Percentiles over every ping sent in the phase: one unanswered by the end of the drain, or
 * bounced, counts as slower than any answered, so when more than 1% went unanswered p99 is
 * Infinity (null in the JSON, `lost` in the table) rather than a figure over the lucky ones.
 */
function summarise(phase: PhaseRoundTrips): LatencySummary {
  const lost = phase.sent - phase.answered - phase.errors;
  const percentile = (q: number): number => {
    const rank = Math.ceil(q * phase.sent);
    if (rank > phase.answered) return Infinity;
    return phase.histogram.percentileMillis(rank / phase.answered);
  };
  return {
    sent: phase.sent,
    answered: phase.answered,
    errors: phase.errors,
    lost,
    p50: percentile(0.5),
    p99: percentile(0.99),
    max: phase.histogram.maxMillis(),
  };
}

/** A latency for the table: `lost` when unanswered pings decide it. */
function latency(value: number, digits: number): string {
  return value === Infinity ? 'lost' : fixed(value, digits);
}

/** Waits, failing as soon as a chatter's connection is lost. */
async function phase(roundTrips: RoundTrips, ms: number): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    const broken = roundTrips.broken();
    if (broken) throw new Error(`${broken.fullJid}: ${broken.closedBecause!.message}`);
    const left = end - performance.now();
    if (left <= 0) return;
    await sleep(Math.min(left, 100));
  }
}

function describe(software: string): { version: string; settings: string[] } {
  const pinning = params.cpus ? [`the server and the chatters on CPU ${params.cpus.server}, the remote Trellis and the flood processes on CPU ${params.cpus.load}`] : [];
  const common = [...pinning, `c2s clients on ${benchTls() ? 'STARTTLS (TLS 1.3, the one suite of load/tls-mode.ts)' : 'plain TCP (the clients never start TLS)'}, SCRAM-SHA-1 with 4096 iterations`, 's2s: STARTTLS, certificates from the lab CA (SASL EXTERNAL), DNS from the lab resolver', 'log level warn'];
  switch (software) {
    case 'trellis':
      return {
        version: `Trellis ${JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version} on Node ${process.version}`,
        settings: [...common, 'every limit at its default (bench/federation/trellis-peer.ts)'],
      };
    case 'prosody':
      return {
        version: `Prosody ${debianVersion('prosody')} (Debian)`,
        settings: [
          ...common,
          params.prosodyLimits === 'debian'
            ? `mod_limits loaded as Debian's prosody.cfg.lua has it: limits = { c2s = { rate = "${DEBIAN_LIMITS.c2s}" }; s2sin = { rate = "${DEBIAN_LIMITS.s2sin}" } }`
            : 'mod_limits NOT loaded (--prosody-limits none): no rate limits',
          `modules: roster, saslauth, tls, dialback, disco, ping${params.prosodyLimits === 'debian' ? ', limits' : ''} (bench/federation/prosody-peer.ts)`,
        ],
      };
    default:
      return { version: `ejabberd ${debianVersion('ejabberd')} (Debian)`, settings: [...common, 'no shapers (bench/federation/ejabberd-peer.ts)'] };
  }
}

function forkFlood(): ChildProcess {
  const child = fork(FLOOD_PROCESS, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  floodProcesses.add(child);
  if (child.pid !== undefined) pin(child.pid, 'load');
  return child;
}

/** Sends a request to a flood process and waits for the reply of the expected type, a failure, an exit or the timeout. */
function ask<T extends FromFlood['type']>(child: ChildProcess, message: ToFlood, expected: T, timeoutMs: number): Promise<Extract<FromFlood, { type: T }>> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (reply: FromFlood): void => {
      if (reply.type === expected) {
        done();
        resolve(reply as Extract<FromFlood, { type: T }>);
      } else if (reply.type === 'failed') {
        done();
        reject(new Error(`flood process ${child.pid}: ${reply.message}`));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`flood process ${child.pid} exited (${signal ?? code}) while waiting for "${expected}"`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`flood process ${child.pid}: no "${expected}" within ${timeoutMs} ms`));
    }, timeoutMs);
    if (child.exitCode !== null || child.signalCode !== null) return onExit(child.exitCode, child.signalCode);
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(message);
  });
}

function printReport(runs: FloodRun[]): void {
  const floodOf = (run: FloodRun, kind: FloodKind) => run.floods.find((flood) => flood.kind === kind);
  const perFlood = (kind: FloodKind, label: string, cell: (flood: FloodResult) => string): string[][] =>
    params.floods.includes(kind) ? [[label, ...runs.map((run) => { const flood = floodOf(run, kind); return flood ? cell(flood) : '-'; })]] : [];
  const floodRows = (kind: FloodKind, name: string, reader: string): string[][] => [
    ...perFlood(kind, `${name}: stanzas/s ${reader} read from the flooder`, (flood) => fixed(flood.stanzasPerSecond, 0)),
    ...perFlood(kind, `${name}: KB/s ${reader} read from the flooder`, (flood) => fixed(flood.bytesPerSecond / 1024, 1)),
    ...perFlood(kind, `${name}: delivered to its target /s`, (flood) => fixed(flood.deliveredPerSecond, 0)),
    ...perFlood(kind, `${name}: delivered by ${params.drainSeconds} s after the flood`, (flood) => String(flood.report.deliveredByDrainEnd)),
    ...perFlood(kind, `${name}: unread in the kernel at the end, KB`, (flood) => fixed(flood.report.bytesUnread / 1024, 0)),
    ...perFlood(kind, `${name}: bounced to the flooder / it was disconnected`, (flood) => `${flood.report.bouncedToSender}${flood.report.firstBounceCondition ? ` (${flood.report.firstBounceCondition})` : ''} / ${flood.report.senderClosedAfterSeconds === undefined ? 'no' : `after ${fixed(flood.report.senderClosedAfterSeconds, 1)} s`}`),
  ];
  const rows: string[][] = [
    ['round trip p50 ms, baseline', ...runs.map((run) => latency(run.baseline.p50, 2))],
    ['round trip p99 ms, baseline', ...runs.map((run) => latency(run.baseline.p99, 2))],
    ['round trip p50 ms, flood', ...runs.map((run) => latency(run.flood.p50, 2))],
    ['round trip p99 ms, flood', ...runs.map((run) => latency(run.flood.p99, 2))],
    ['round trip max ms of the answered, flood', ...runs.map((run) => fixed(run.flood.max, 1))],
    [`p99 flood / baseline (target ≤ ${P99_TARGET_RATIO})`, ...runs.map((run) => `${run.p99Ratio === Infinity ? '∞' : fixed(run.p99Ratio, 2)} ${run.targetMet ? 'met' : 'NOT met'}`)],
    ['round trips answered / lost, baseline', ...runs.map((run) => `${run.baseline.answered} / ${run.baseline.lost + run.baseline.errors}`)],
    ['round trips answered / lost, flood', ...runs.map((run) => `${run.flood.answered} / ${run.flood.lost + run.flood.errors}`)],
    ...floodRows('local', 'client flood', 'the server'),
    ...floodRows('remote', 'remote-domain flood', 'the remote Trellis'),
    ['server RSS peak MB', ...runs.map((run) => fixed(run.serverRssPeakBytes / 2 ** 20, 1))],
    ['server RSS after baseline MB', ...runs.map((run) => fixed(run.serverRssAfterBaselineBytes / 2 ** 20, 1))],
    ['server cores, baseline / flood', ...runs.map((run) => `${fixed(run.serverCoresBaseline, 2)} / ${fixed(run.serverCoresFlood, 2)}`)],
    ...(params.floods.includes('remote')
      ? [['remote Trellis: cores in flood / RSS peak MB', ...runs.map((run) => `${fixed(run.remoteCoresFlood ?? NaN, 2)} / ${fixed((run.remoteRssPeakBytes ?? NaN) / 2 ** 20, 1)}`)]]
      : []),
    ['chatters + flood processes cores, flood', ...runs.map((run) => `${fixed(run.chattersCoresFlood, 2)} + ${fixed(run.floodProcessCores, 2)}`)],
    ['other cores, flood', ...runs.map((run) => fixed(run.otherCoresFlood, 2) + (run.otherCoresFlood > OTHER_CORES_WARNING ? '!' : ''))],
  ];
  process.stdout.write(
    `\nflood: ${params.users} users pinging their partner ${params.pingsPerUserPerSecond}/s each (${params.users * params.pingsPerUserPerSecond} round trips/s), ${params.baselineSeconds} s baseline after ${params.warmupSeconds} s warm-up, ` +
      `then ${params.floodSeconds} s with ${params.floods.map((kind) => (kind === 'local' ? 'a local client' : 'a remote domain')).join(' and ')} flooding ${params.floodBodyBytes}-byte bodies to one local user each\n\n`,
  );
  process.stdout.write(textTable(['', ...runs.map((run) => run.server)], rows) + '\n');
  for (const run of runs) {
    for (const flood of run.floods) if (flood.report.senderStreamError) process.stdout.write(`\n${run.server}, ${flood.kind} flooder's stream error: ${flood.report.senderStreamError}\n`);
    if (run.floods.some((flood) => flood.report.hitMaxStanzas)) process.stdout.write(`\n! ${run.server}: a flood reached --max-stanzas before the time was up\n`);
  }
  if (runs.some((run) => run.otherCoresFlood > OTHER_CORES_WARNING)) process.stdout.write(`\n! other processes used more than ${OTHER_CORES_WARNING} cores during a flood: its figures are disturbed\n`);
  for (const run of runs) process.stdout.write(`\n${run.server}: ${run.version}\n${run.settings.map((line) => `  ${line}`).join('\n')}\n`);
}

/** Pins a process of the run to its side of the plan (no-op when not pinned). */
function pin(pid: number, side: keyof CpuPlan): void {
  if (params.cpus) pinProcessTree(pid, params.cpus[side]);
}

function fail(message: string): never {
  process.stderr.write(`flood: ${message}\n`);
  process.exit(2);
}
