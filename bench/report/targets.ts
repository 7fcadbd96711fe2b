/**
 * The performance targets, each checked against the results files of one run of the scenarios
 * (bench/results/<scenario>-<date>.json): Trellis's figure, the other server's from the same
 * file, their ratio and whether the target is met.
 */
import { spreadOf, type Spread } from './stats.ts';
import { fixed } from './table.ts';

/** The parsed results file of each scenario that ran. */
export interface ScenarioResults {
  messaging?: MessagingResults;
  'fixed-rate'?: FixedRateResults;
  sessions?: SessionsResults;
  presence?: PresenceResults;
  federation?: FederationResults;
  flood?: FloodResults;
  muc?: MucResults;
  'startup-memory'?: StartupMemoryResults;
  soak?: SoakResults;
}

interface SoakResults {
  params: { minutes: number; settleMinutes: number; tls: boolean };
  rate: number;
  capacity?: number;
  soak: { sent: number; errors: number; misordered: number; lost: number; churn: { loggedIn: number; loginFailures: number; lost: number } };
  verdict: { memoryChange: number; memoryFlat: boolean; noError: boolean; nothingLost: boolean; passed: boolean };
}

interface StartupMemoryResults {
  runs: { server: string; rssBytes: number; anonBytes: number; fileBytes: number; load1: number }[];
}

interface MessagingResults {
  summary: Record<string, { runs: string; deliveredPerSecond: Spread; deliveredPerServerCpuSecond: Spread; p99: Spread }>;
}

interface FixedRateResults {
  runs: { server: string; offeredPerSecond: number; keptUp: boolean; latencyMs: { p99: number } }[];
  /** since fixed-rate's --repeat: per server and rate, over the undisturbed rounds */
  medians?: { server: string; offeredPerSecond: number; rounds: number; keptUp: boolean; p99: Spread }[];
}

interface SessionsResults {
  runs: { server: string; sessions: number; loginsPerSecond: number; rssPerSessionBytes: number }[];
}

interface PresenceResults {
  runs: { server: string; contacts: number; allReachedMs: number[] }[];
}

interface MucResults {
  runs: { server: string; occupants: number; allReachedMs: number[] }[];
}

interface ColdLink {
  coldMs: number | null;
}

interface FederationResults {
  /** each pair's median over its rounds (files from before `--repeat` have one round and none) */
  medians?: Record<string, { rounds: number; deliveredPerSecond: { median: number } }>;
  results: {
    pair: string;
    throughput: { deliveredPerSecond: number };
    external: ColdLink[];
    directTls?: ColdLink[];
    dialback: ColdLink[];
  }[];
}

/** Each pair's throughput (the median of its rounds) and its cold links of every round together. */
interface FederationPair {
  pair: string;
  rounds: number;
  deliveredPerSecond: number;
  external: ColdLink[];
  directTls: ColdLink[];
  dialback: ColdLink[];
}

function federationPairs(federation: FederationResults | undefined): FederationPair[] {
  const pairs = new Map<string, FederationPair>();
  for (const result of federation?.results ?? []) {
    const found = pairs.get(result.pair);
    const median = federation?.medians?.[result.pair];
    const pair = found ?? { pair: result.pair, rounds: median?.rounds ?? 1, deliveredPerSecond: median?.deliveredPerSecond.median ?? result.throughput.deliveredPerSecond, external: [], directTls: [], dialback: [] };
    pair.external.push(...result.external);
    pair.directTls.push(...(result.directTls ?? []));
    pair.dialback.push(...result.dialback);
    pairs.set(result.pair, pair);
  }
  return [...pairs.values()];
}

/** "medians of 3" when the pair ran in rounds. */
function roundsNote(pair: FederationPair): string {
  return pair.rounds > 1 ? ` (medians of ${pair.rounds})` : '';
}

interface FloodResults {
  /** p99 is null in the file when more than 1% of the pings went unanswered */
  runs: { server: string; baseline: { p99: number | null }; flood: { p99: number | null } }[];
}

export interface TargetRow {
  target: string;
  trellis: string;
  other: string;
  ratio: string;
  met: 'yes' | 'no' | 'not measured';
}

/**
 * The first round's targets, then the second round's: those set with every client on TLS when
 * `tls` is true (the results were taken that way), else those set with TLS off.
 */
export function targetRows(results: ScenarioResults, tls: boolean): TargetRow[] {
  const firstRound = [...messagingRows(results.messaging), ...fixedRateRows(results['fixed-rate']), ...sessionsRows(results.sessions), ...presenceRows(results.presence), ...federationRows(results.federation), ...floodRows(results.flood), ...mucRows(results.muc)];
  const secondRound = tls
    ? [...messagingRatioRows(results.messaging, 'ejabberd', 'deliveredPerServerCpuSecond', 6, 'with TLS: messages per server CPU-second ≥ 6× ejabberd'), ...fixedRateRows(results['fixed-rate'], 0.3, 'with TLS: '), ...tlsLoginRows(results.sessions), ...tlsFederationRows(results.federation), ...soakRows(results.soak)]
    : [...messagingRatioRows(results.messaging, 'relay', 'deliveredPerSecond', 0.5, 'throughput ≥ 50% of the raw TCP relay'), ...presenceHalfRows(results.presence), ...sessionMemoryRows(results.sessions), ...startupMemoryRows(results['startup-memory']), ...soakRows(results.soak)];
  return [...firstRound, ...secondRound];
}

const unmeasured = (target: string): TargetRow => ({ target, trellis: '-', other: '-', ratio: '-', met: 'not measured' });

/** `ratio` of Trellis to the other figure, and whether it meets `atLeast` (or `atMost`). */
function compare(target: string, trellis: number, other: number, unit: string, digits: number, bound: { atLeast?: number; atMost?: number }, otherName: string): TargetRow {
  if (!Number.isFinite(trellis) || !Number.isFinite(other) || other === 0) return unmeasured(target);
  const ratio = trellis / other;
  const met = bound.atLeast !== undefined ? ratio >= bound.atLeast : ratio <= bound.atMost!;
  return { target, trellis: `${fixed(trellis, digits)} ${unit}`, other: `${fixed(other, digits)} ${unit} (${otherName})`, ratio: `${fixed(ratio, 2)}×`, met: met ? 'yes' : 'no' };
}

function messagingRows(messaging: MessagingResults | undefined): TargetRow[] {
  const perCpu = 'messages per server CPU-second ≥ 2× ejabberd';
  const throughput = 'throughput ≥ 1× ejabberd';
  const trellis = messaging?.summary.trellis;
  const ejabberd = messaging?.summary.ejabberd;
  if (!trellis || !ejabberd) return [unmeasured(perCpu), unmeasured(throughput)];
  const spread = (value: Spread) => ` [${fixed(value.min, 0)}–${fixed(value.max, 0)}]`;
  const withSpread = (row: TargetRow, own: Spread, other: Spread): TargetRow => ({ ...row, trellis: row.trellis + spread(own), other: row.other + spread(other) });
  return [
    withSpread(compare(`${perCpu} (medians of ${trellis.runs})`, trellis.deliveredPerServerCpuSecond.median, ejabberd.deliveredPerServerCpuSecond.median, 'msg/CPU-s', 0, { atLeast: 2 }, 'ejabberd'), trellis.deliveredPerServerCpuSecond, ejabberd.deliveredPerServerCpuSecond),
    withSpread(compare(`${throughput} (medians of ${trellis.runs})`, trellis.deliveredPerSecond.median, ejabberd.deliveredPerSecond.median, 'msg/s', 0, { atLeast: 1 }, 'ejabberd'), trellis.deliveredPerSecond, ejabberd.deliveredPerSecond),
  ];
}

/** Trellis's p99 at 10,000 msg/s against ejabberd's, target at most `factor` times. */
function fixedRateRows(fixedRate: FixedRateResults | undefined, factor = 1, prefix = ''): TargetRow[] {
  const target = `${prefix}p99 latency at 10,000 msg/s ≤ ${factor === 1 ? '' : `${factor}× `}ejabberd`;
  // Files from before --repeat hold one round per server and rate and no medians: the median of one.
  const at = (server: string) =>
    fixedRate?.medians?.find((median) => median.server === server && median.offeredPerSecond === 10_000) ??
    fixedRate?.runs.filter((run) => run.server === server && run.offeredPerSecond === 10_000).map((run) => ({ rounds: 1, keptUp: run.keptUp, p99: spreadOf([run.latencyMs.p99]) }))[0];
  const trellis = at('trellis');
  const ejabberd = at('ejabberd');
  if (!trellis || !ejabberd) return [unmeasured(target)];
  const several = trellis.rounds > 1;
  const spread = (value: Spread) => (several ? ` [${fixed(value.min, 2)}–${fixed(value.max, 2)}]` : '');
  const row = compare(target + (several ? ` (medians of ${trellis.rounds})` : ''), trellis.p99.median, ejabberd.p99.median, 'ms', 2, { atMost: factor }, 'ejabberd');
  const withSpread = { ...row, trellis: row.trellis + spread(trellis.p99), other: row.other + spread(ejabberd.p99) };
  // A server that fell behind the offered rate in any round has not met any latency target.
  return [trellis.keptUp ? withSpread : { ...withSpread, trellis: `${withSpread.trellis} (fell behind)`, met: 'no' }];
}

function sessionsRows(sessions: SessionsResults | undefined): TargetRow[] {
  const counts = [...new Set(sessions?.runs.map((run) => run.sessions) ?? [])];
  if (counts.length === 0) return [unmeasured('memory per idle session ≤ 0.5× Prosody'), unmeasured('login rate ≥ 1× ejabberd')];
  const at = (server: string, count: number) => sessions!.runs.find((run) => run.server === server && run.sessions === count);
  const rows: TargetRow[] = [];
  for (const count of counts) {
    const trellis = at('trellis', count);
    const prosody = at('prosody', count);
    const target = `memory per idle session at ${count} sessions ≤ 0.5× Prosody`;
    rows.push(trellis && prosody ? compare(target, trellis.rssPerSessionBytes / 1024, prosody.rssPerSessionBytes / 1024, 'KB', 1, { atMost: 0.5 }, 'Prosody') : unmeasured(target));
  }
  return [...rows, ...loginRateRows(sessions!, 1, '')];
}

/** Trellis's login rate against ejabberd's at each session count, target `factor` times. */
function loginRateRows(sessions: SessionsResults, factor: number, prefix: string): TargetRow[] {
  const counts = [...new Set(sessions.runs.map((run) => run.sessions))];
  const at = (server: string, count: number) => sessions.runs.find((run) => run.server === server && run.sessions === count);
  return counts.map((count) => {
    const trellis = at('trellis', count);
    const ejabberd = at('ejabberd', count);
    const target = `${prefix}login rate at ${count} sessions ≥ ${factor}× ejabberd`;
    return trellis && ejabberd ? compare(target, trellis.loginsPerSecond, ejabberd.loginsPerSecond, 'logins/s', 0, { atLeast: factor }, 'ejabberd') : unmeasured(target);
  });
}

function presenceRows(presence: PresenceResults | undefined): TargetRow[] {
  const target = 'presence change reaching 999 contacts: faster than ejabberd';
  const median = (server: string) => spreadOf(presence?.runs.find((run) => run.server === server && run.contacts === 999)?.allReachedMs ?? []).median;
  return [compare(`${target} (median time to reach all)`, median('trellis'), median('ejabberd'), 'ms', 1, { atMost: 1 }, 'ejabberd')];
}

function mucRows(muc: MucResults | undefined): TargetRow[] {
  const median = (server: string) => spreadOf(muc?.runs.find((run) => run.server === server && run.occupants === 1000)?.allReachedMs ?? []).median;
  return ['prosody', 'ejabberd'].map((other) =>
    compare(`group-chat message reaching 1,000 occupants: faster than ${other} (median time to reach all)`, median('trellis'), median(other), 'ms', 1, { atMost: 1 }, other),
  );
}

function federationRows(federation: FederationResults | undefined): TargetRow[] {
  const throughputTarget = 'Trellis↔Trellis federated throughput ≥ 3× the best other pair';
  const coldTarget = 'cold link with SASL EXTERNAL ≤ 10 ms';
  const pairs = federationPairs(federation);
  const own = pairs.find((pair) => pair.pair === 'trellis-trellis');
  if (!own) return [unmeasured(throughputTarget), unmeasured(coldTarget)];
  const best = bestOtherPair(pairs);
  const coldMedian = (links: ColdLink[]) => spreadOf(links.map((link) => link.coldMs ?? NaN)).median;
  const coldRow = (label: string, links: ColdLink[]): TargetRow => {
    const median = coldMedian(links);
    if (!Number.isFinite(median)) return unmeasured(label);
    return { target: label, trellis: `${fixed(median, 1)} ms`, other: `10 ms (target); dialback ${fixed(coldMedian(own.dialback), 1)} ms`, ratio: '-', met: median <= 10 ? 'yes' : 'no' };
  };
  return [
    best ? compare(throughputTarget + roundsNote(own), own.deliveredPerSecond, best.deliveredPerSecond, 'msg/s', 0, { atLeast: 3 }, best.pair) : unmeasured(throughputTarget),
    coldRow(`${coldTarget}, STARTTLS (median of ${own.external.length} links)`, own.external),
    coldRow(`${coldTarget}, direct TLS (median of ${own.directTls.length} links)`, own.directTls),
  ];
}

/** The pair without Trellis that carried the most. */
function bestOtherPair(pairs: FederationPair[]): FederationPair | undefined {
  return pairs.filter((pair) => !pair.pair.includes('trellis')).sort((a, b) => b.deliveredPerSecond - a.deliveredPerSecond)[0];
}

function floodRows(flood: FloodResults | undefined): TargetRow[] {
  const target = 'chatters\' round-trip p99 during a client and a remote-domain flood ≤ 2× before';
  const run = (server: string) => flood?.runs.find((candidate) => candidate.server === server);
  const trellis = run('trellis');
  if (!trellis || trellis.baseline.p99 === null) return [unmeasured(target)];
  const describe = (found: NonNullable<ReturnType<typeof run>>) =>
    `${found.flood.p99 === null ? 'over 1% lost' : `${fixed(found.flood.p99, 1)} ms`} against ${fixed(found.baseline.p99 ?? NaN, 1)} ms`;
  const ratio = trellis.flood.p99 === null ? Infinity : trellis.flood.p99 / trellis.baseline.p99;
  const prosody = run('prosody');
  return [
    {
      target,
      trellis: describe(trellis),
      other: prosody ? `${describe(prosody)} (Prosody, Debian's mod_limits)` : '-',
      ratio: Number.isFinite(ratio) ? `${fixed(ratio, 2)}×` : '∞',
      met: ratio <= 2 ? 'yes' : 'no',
    },
  ];
}

/**
 * Trellis's median RSS against the 50 MB target, with Prosody's and ejabberd's medians from the
 * same rounds beside it, and Node's own with TLS and SQLite loaded (`node-tls`), under which no
 * server on this runtime goes.
 */
function startupMemoryRows(startup: StartupMemoryResults | undefined): TargetRow[] {
  const target = 'resident memory of a fresh server (default configuration, no session) ≤ 50 MB';
  const median = (server: string, pick: (run: StartupMemoryResults['runs'][number]) => number) =>
    spreadOf((startup?.runs ?? []).filter((run) => run.server === server).map(pick)).median / 1048576;
  const trellis = median('trellis', (run) => run.rssBytes);
  if (!Number.isFinite(trellis)) return [unmeasured(target)];
  const others = ['prosody', 'ejabberd', 'node-tls'].filter((server) => Number.isFinite(median(server, (run) => run.rssBytes)));
  const loads = (startup?.runs ?? []).map((run) => run.load1);
  return [
    {
      target: `${target} (median; load average ${fixed(Math.min(...loads), 1)}–${fixed(Math.max(...loads), 1)})`,
      trellis: `${fixed(trellis, 1)} MB (${fixed(median('trellis', (run) => run.anonBytes), 1)} anonymous)`,
      other: others.map((server) => `${fixed(median(server, (run) => run.rssBytes), 1)} MB (${server})`).join(', ') || '-',
      ratio: others.map((server) => `${fixed(trellis / median(server, (run) => run.rssBytes), 2)}×`).join(', ') || '-',
      met: trellis <= 50 ? 'yes' : 'no',
    },
  ];
}

// The second round's targets (performance, round two). With TLS on: every benchmark client
// negotiates STARTTLS with TLS 1.3 and one cipher suite; server links are TLS in every run.

/** One messaging figure of Trellis's against the same of `other` (medians of the rounds), target at least `factor` times. */
function messagingRatioRows(messaging: MessagingResults | undefined, other: string, figure: 'deliveredPerSecond' | 'deliveredPerServerCpuSecond', factor: number, target: string): TargetRow[] {
  const trellis = messaging?.summary.trellis;
  const theirs = messaging?.summary[other];
  if (!trellis || !theirs) return [unmeasured(target)];
  const unit = figure === 'deliveredPerSecond' ? 'msg/s' : 'msg/CPU-s';
  return [compare(`${target} (medians of ${trellis.runs})`, trellis[figure].median, theirs[figure].median, unit, 0, { atLeast: factor }, other)];
}

function tlsLoginRows(sessions: SessionsResults | undefined): TargetRow[] {
  if (!sessions || sessions.runs.length === 0) return [unmeasured('with TLS: login rate ≥ 2× ejabberd')];
  return loginRateRows(sessions, 2, 'with TLS: ');
}

function tlsFederationRows(federation: FederationResults | undefined): TargetRow[] {
  const target = 'Trellis↔Trellis federated throughput ≥ 4× the best other pair';
  const pairs = federationPairs(federation);
  const own = pairs.find((pair) => pair.pair === 'trellis-trellis');
  const best = bestOtherPair(pairs);
  if (!own || !best) return [unmeasured(target)];
  return [compare(target + roundsNote(own), own.deliveredPerSecond, best.deliveredPerSecond, 'msg/s', 0, { atLeast: 4 }, best.pair)];
}

function presenceHalfRows(presence: PresenceResults | undefined): TargetRow[] {
  const median = (server: string) => spreadOf(presence?.runs.find((run) => run.server === server && run.contacts === 999)?.allReachedMs ?? []).median;
  return [compare('presence change reaching 999 contacts ≤ 0.5× ejabberd\'s time (median)', median('trellis'), median('ejabberd'), 'ms', 1, { atMost: 0.5 }, 'ejabberd')];
}

/** At the largest count measured (19,000 is what a process may hold here). */
function sessionMemoryRows(sessions: SessionsResults | undefined): TargetRow[] {
  const most = Math.max(...(sessions?.runs.map((run) => run.sessions) ?? []));
  const at = (server: string) => sessions?.runs.find((run) => run.server === server && run.sessions === most);
  const trellis = at('trellis');
  if (!trellis) return [unmeasured('memory per idle session ≤ 5 KB')];
  const kb = trellis.rssPerSessionBytes / 1024;
  const others = ['prosody', 'ejabberd'].flatMap((server) => {
    const run = at(server);
    return run ? [`${fixed(run.rssPerSessionBytes / 1024, 1)} KB (${server})`] : [];
  });
  return [{ target: `memory per idle session at ${most} sessions ≤ 5 KB`, trellis: `${fixed(kb, 1)} KB`, other: others.join(', ') || '-', ratio: '-', met: kb <= 5 ? 'yes' : 'no' }];
}

function soakRows(soak: SoakResults | undefined): TargetRow[] {
  const target = 'soak: resident memory at the end within 10% of minute 5, no error, no lost message';
  if (!soak) return [unmeasured(target)];
  const { verdict, soak: run } = soak;
  const change = `${verdict.memoryChange >= 0 ? '+' : ''}${fixed(verdict.memoryChange * 100, 1)}%`;
  return [
    {
      target: `${target} (${soak.params.minutes} min at ${soak.rate} msg/s${soak.capacity ? `, half of ${Math.round(soak.capacity)}` : ''})`,
      trellis: `RSS ${change}; ${run.sent} sent, ${run.errors} errors, ${run.lost + run.churn.lost} lost, ${run.churn.loginFailures} failed logins`,
      other: '-',
      ratio: '-',
      met: verdict.passed ? 'yes' : 'no',
    },
  ];
}
