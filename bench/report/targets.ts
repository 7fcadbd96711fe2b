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
}

interface StartupMemoryResults {
  runs: { server: string; rssBytes: number; anonBytes: number; fileBytes: number; load1: number }[];
}

interface MessagingResults {
  summary: Record<string, { runs: string; deliveredPerSecond: Spread; deliveredPerServerCpuSecond: Spread; p99: Spread }>;
}

interface FixedRateResults {
  runs: { server: string; offeredPerSecond: number; keptUp: boolean; latencyMs: { p99: number } }[];
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
  results: {
    pair: string;
    throughput: { deliveredPerSecond: number };
    external: ColdLink[];
    directTls?: ColdLink[];
    dialback: ColdLink[];
  }[];
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

export function targetRows(results: ScenarioResults): TargetRow[] {
  return [...messagingRows(results.messaging), ...fixedRateRows(results['fixed-rate']), ...sessionsRows(results.sessions), ...presenceRows(results.presence), ...federationRows(results.federation), ...floodRows(results.flood), ...mucRows(results.muc), ...startupMemoryRows(results['startup-memory'])];
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

function fixedRateRows(fixedRate: FixedRateResults | undefined): TargetRow[] {
  const target = 'p99 latency at 10,000 msg/s ≤ ejabberd';
  const at = (server: string) => fixedRate?.runs.find((run) => run.server === server && run.offeredPerSecond === 10_000);
  const trellis = at('trellis');
  const ejabberd = at('ejabberd');
  if (!trellis || !ejabberd) return [unmeasured(target)];
  const row = compare(target, trellis.latencyMs.p99, ejabberd.latencyMs.p99, 'ms', 2, { atMost: 1 }, 'ejabberd');
  // A server that fell behind the offered rate has not met any latency target.
  return [trellis.keptUp ? row : { ...row, trellis: `${row.trellis} (fell behind)`, met: 'no' }];
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
  for (const count of counts) {
    const trellis = at('trellis', count);
    const ejabberd = at('ejabberd', count);
    const target = `login rate at ${count} sessions ≥ 1× ejabberd`;
    rows.push(trellis && ejabberd ? compare(target, trellis.loginsPerSecond, ejabberd.loginsPerSecond, 'logins/s', 0, { atLeast: 1 }, 'ejabberd') : unmeasured(target));
  }
  return rows;
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
  const pairs = federation?.results ?? [];
  const own = pairs.find((pair) => pair.pair === 'trellis-trellis');
  if (!own) return [unmeasured(throughputTarget), unmeasured(coldTarget)];
  const others = pairs.filter((pair) => !pair.pair.includes('trellis'));
  const best = others.reduce<(typeof pairs)[number] | undefined>((found, pair) => (!found || pair.throughput.deliveredPerSecond > found.throughput.deliveredPerSecond ? pair : found), undefined);
  const coldMedian = (links: ColdLink[] | undefined) => spreadOf((links ?? []).map((link) => link.coldMs ?? NaN)).median;
  const coldRow = (label: string, links: ColdLink[] | undefined): TargetRow => {
    const median = coldMedian(links);
    if (!Number.isFinite(median)) return unmeasured(label);
    return { target: label, trellis: `${fixed(median, 1)} ms`, other: `10 ms (target); dialback ${fixed(coldMedian(own.dialback), 1)} ms`, ratio: '-', met: median <= 10 ? 'yes' : 'no' };
  };
  return [
    best
      ? compare(throughputTarget, own.throughput.deliveredPerSecond, best.throughput.deliveredPerSecond, 'msg/s', 0, { atLeast: 3 }, best.pair)
      : unmeasured(throughputTarget),
    coldRow(`${coldTarget}, STARTTLS (median of ${own.external.length} links)`, own.external),
    coldRow(`${coldTarget}, direct TLS (median of ${own.directTls?.length ?? 0} links)`, own.directTls),
  ];
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

/** Trellis's median RSS against the 50 MB target, with Prosody's and ejabberd's medians from the same rounds beside it. */
function startupMemoryRows(startup: StartupMemoryResults | undefined): TargetRow[] {
  const target = 'resident memory of a fresh server (default configuration, no session) ≤ 50 MB';
  const median = (server: string, pick: (run: StartupMemoryResults['runs'][number]) => number) =>
    spreadOf((startup?.runs ?? []).filter((run) => run.server === server).map(pick)).median / 1048576;
  const trellis = median('trellis', (run) => run.rssBytes);
  if (!Number.isFinite(trellis)) return [unmeasured(target)];
  const others = ['prosody', 'ejabberd'].filter((server) => Number.isFinite(median(server, (run) => run.rssBytes)));
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
