/**
 * Archive query latency (XEP-0313) in a 1,000,000-message archive, on SQLite and PostgreSQL:
 * one user's archive with messages from 100 correspondents, queried for pages of 50 with a
 * `with` filter as a client does it: the first page, the last page (RSM `<before/>`), a page
 * after a message somewhere in the archive (RSM `<after>`), and a page within a time window.
 * Each query runs what the server runs for it (the form and RSM read, the UIDs looked up, the
 * count, the page, the results built and serialized), without the socket. Target: p99 under 20 ms.
 *
 *   npm run bench -- archive [--messages 1000000] [--queries 2000] [--drivers sqlite,postgres]
 *
 * PostgreSQL is a throwaway cluster (test/support/postgres.ts; durability off, which writes
 * need and reads do not), or the database named by TRELLIS_BENCH_POSTGRES_URL. Loading a
 * million messages takes about a minute per driver.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { parseArchiveQuery } from '../src/modules/mam/query.ts';
import { finElement, resultMessage } from '../src/modules/mam/results.ts';
import { runArchiveQuery } from '../src/modules/mam/run-query.ts';
import { openPostgresStorage } from '../src/storage/postgres.ts';
import { openSqliteStorage } from '../src/storage/sqlite.ts';
import type { Storage } from '../src/storage/types.ts';
import { parseElement } from '../src/xml/parse-element.ts';
import { serialize } from '../src/xml/serialize.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { LatencyHistogram } from './load/histogram.ts';
import { writeResults } from './report/results.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    queries: { type: 'string', default: '2000' },
    drivers: { type: 'string', default: 'sqlite,postgres' },
  },
});
const MESSAGES = Number(values.messages);
if (!(MESSAGES >= 100_000)) throw new Error('--messages: at least 100000, so that every correspondent has pages of 50 to query');
const QUERIES = Number(values.queries);
const WARMUP = Math.min(200, QUERIES);
const CORRESPONDENTS = 100;
const PAGE = 50;
const TARGET_P99_MS = 20;
const OWNER = { domain: 'example.com', name: 'alice' };
/** One message every 10 seconds from a year ago: positions in microseconds, as the server writes them. */
const START_US = (Date.now() - 365 * 86_400_000) * 1000;
const STEP_US = 10_000_000;
const LIMITS = { page_size: PAGE, max_page_size: 250 };

/**
 * The SQL that loads row n (0-based) of the archive, the same for both drivers: `n` is the row
 * number as text, `who` the correspondent's number as text.
 */
function rowSql(n: string, who: string): { id: string; withBare: string; stanza: string } {
  return {
    id: `'m' || ${n}`,
    withBare: `'contact' || ${who} || '@example.net'`,
    stanza: [
      `'<message xmlns="jabber:client" type="chat" id="client-'`,
      n,
      `'" from="contact'`,
      who,
      `'@example.net/phone" to="alice@example.com/laptop"><body>Message number '`,
      n,
      `' of the benchmark archive, about as long as a line of chat tends to be.</body><origin-id xmlns="urn:xmpp:sid:0" id="o-'`,
      n,
      `'"/><active xmlns="http://jabber.org/protocol/chatstates"/></message>'`,
    ].join(' || '),
  };
}

async function loadSqlite(file: string): Promise<void> {
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(file);
  const row = rowSql('value', `(value % ${CORRESPONDENTS})`);
  db.exec('BEGIN');
  db.exec(`WITH RECURSIVE series(value) AS (SELECT 0 UNION ALL SELECT value + 1 FROM series WHERE value + 1 < ${MESSAGES})
    INSERT INTO archive_messages (domain, username, id, position, with_bare, with_resource, stanza)
    SELECT 'example.com', 'alice', ${row.id}, ${START_US} + value * ${STEP_US}, ${row.withBare}, 'phone', ${row.stanza} FROM series`);
  db.exec('COMMIT');
  db.exec('ANALYZE');
  db.close();
}

/** the share of the table's pages the visibility map must cover after the load, and the VACUUMs tried for it */
const VISIBLE_SHARE = 0.99;
const VACUUM_ATTEMPTS = 5;

async function loadPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const row = rowSql('n::text', `(n % ${CORRESPONDENTS})::text`);
  await client.query(`DELETE FROM archive_messages WHERE domain = 'example.com' AND username = 'alice'`);
  await client.query(`INSERT INTO archive_messages (domain, username, id, position, with_bare, with_resource, stanza)
    SELECT 'example.com', 'alice', ${row.id}, ${START_US}::bigint + n::bigint * ${STEP_US}, ${row.withBare}, 'phone', ${row.stanza}
    FROM generate_series(0, ${MESSAGES - 1}) AS n`);
  // As autovacuum would after a load: statistics, and the visibility map index-only counts use.
  // A VACUUM that runs while another transaction (an automatic ANALYZE of the load) still holds
  // an older snapshot leaves pages not all-visible, and every count then reads the heap: vacuum
  // again until the map covers the table, as autovacuum would in time.
  for (let attempt = 1; ; attempt++) {
    await client.query('VACUUM ANALYZE archive_messages');
    const { rows } = await client.query<{ relpages: number; relallvisible: number }>("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'archive_messages'");
    const { relpages, relallvisible } = rows[0]!;
    if (relallvisible >= relpages * VISIBLE_SHARE) break;
    if (attempt === VACUUM_ATTEMPTS) {
      process.stderr.write(`postgres: only ${relallvisible} of ${relpages} pages all-visible after ${attempt} VACUUMs; counts will read the heap\n`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  await client.end();
}

interface QueryKind {
  name: string;
  /** the query element for the i-th run */
  xml(i: number, random: () => number): string;
}

const form = (fields: Record<string, string>): string =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>${Object.entries(fields)
    .map(([name, value]) => `<field var='${name}'><value>${value}</value></field>`)
    .join('')}</x>`;
const rsm = (inner: string): string => `<set xmlns='http://jabber.org/protocol/rsm'><max>${PAGE}</max>${inner}</set>`;
const contact = (random: () => number): string => `contact${Math.floor(random() * CORRESPONDENTS)}@example.net`;
const stamp = (us: number): string => new Date(Math.floor(us / 1000)).toISOString();

const KINDS: QueryKind[] = [
  { name: 'first page', xml: (_i, random) => form({ with: contact(random) }) + rsm('') },
  { name: 'last page', xml: (_i, random) => form({ with: contact(random) }) + rsm('<before/>') },
  {
    name: 'page after a message',
    xml: (_i, random) => {
      const who = Math.floor(random() * CORRESPONDENTS);
      // A message of that correspondent somewhere in the archive, with a full page after it.
      const n = Math.floor(random() * Math.max(1, MESSAGES / CORRESPONDENTS - PAGE - 1)) * CORRESPONDENTS + who;
      return form({ with: `contact${who}@example.net` }) + rsm(`<after>m${n}</after>`);
    },
  },
  {
    name: 'time window',
    xml: (_i, random) => {
      const from = START_US + Math.floor(random() * (MESSAGES - 100_000)) * STEP_US;
      return form({ with: contact(random), start: stamp(from), end: stamp(from + 100_000 * STEP_US) }) + rsm('');
    },
  },
];

/** The queries of each kind, drawn once, so every driver runs the same ones. */
const PLANS = new Map(KINDS.map((kind) => [kind.name, Array.from({ length: WARMUP + QUERIES }, (_, i) => kind.xml(i, Math.random))]));

/** One query as the server answers it, minus the socket: returns the bytes written. */
async function answer(storage: Storage, queryXml: string): Promise<{ bytes: number; results: number }> {
  const request = parseArchiveQuery(parseElement(`<query xmlns='urn:xmpp:mam:2' queryid='q'>${queryXml}</query>`), LIMITS);
  const outcome = await runArchiveQuery(storage.archive, OWNER, request);
  let bytes = 0;
  for (const archived of outcome.messages) bytes += serialize(resultMessage(archived, parseElement(archived.stanza), 'alice@example.com', 'alice@example.com/laptop', request.queryId)).length;
  bytes += serialize(finElement(outcome, outcome.messages)).length;
  return { bytes, results: outcome.messages.length };
}

interface KindResult {
  kind: string;
  queries: number;
  results: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** this process's CPU time per query (PostgreSQL's own is not in it): what the latency would be on an idle machine, less waiting for the database */
  cpuP50: number;
  cpuP99: number;
}

async function measure(driver: string, storage: Storage): Promise<KindResult[]> {
  const rows: KindResult[] = [];
  for (const kind of KINDS) {
    const histogram = new LatencyHistogram();
    const cpu = new LatencyHistogram();
    let results = 0;
    for (let i = 0; i < WARMUP + QUERIES; i++) {
      const xml = PLANS.get(kind.name)![i]!;
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      const outcome = await answer(storage, xml);
      const cpuUsed = process.cpuUsage(cpuStarted);
      const elapsed = performance.now() - started;
      if (outcome.results !== PAGE) throw new Error(`${driver} ${kind.name}: ${outcome.results} results instead of ${PAGE}`);
      if (i >= WARMUP) {
        histogram.recordMillis(elapsed);
        cpu.recordMillis((cpuUsed.user + cpuUsed.system) / 1000);
        results += outcome.results;
      }
    }
    const row = { kind: kind.name, queries: QUERIES, results, p50: histogram.percentileMillis(0.5), p90: histogram.percentileMillis(0.9), p99: histogram.percentileMillis(0.99), max: histogram.maxMillis(), cpuP50: cpu.percentileMillis(0.5), cpuP99: cpu.percentileMillis(0.99) };
    rows.push(row);
    process.stdout.write(`${driver.padEnd(9)} ${kind.name.padEnd(22)} p50 ${row.p50.toFixed(2).padStart(6)} ms  p90 ${row.p90.toFixed(2).padStart(6)} ms  p99 ${row.p99.toFixed(2).padStart(6)} ms  max ${row.max.toFixed(2).padStart(7)} ms   cpu p50 ${row.cpuP50.toFixed(2)} ms p99 ${row.cpuP99.toFixed(2)} ms\n`);
  }
  return rows;
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  process.stdout.write(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return result;
}

const drivers = values.drivers.split(',');
const report: Record<string, KindResult[]> = {};
const directory = mkdtempSync(join(tmpdir(), 'trellis-bench-archive-'));
try {
  if (drivers.includes('sqlite')) {
    const file = join(directory, 'archive.db');
    await (await openSqliteStorage(file)).close();
    await timed(`sqlite: ${MESSAGES} messages loaded`, () => loadSqlite(file));
    const storage = await openSqliteStorage(file);
    try {
      report.sqlite = await measure('sqlite', storage);
    } finally {
      await storage.close();
    }
  }
  if (drivers.includes('postgres')) {
    const server = process.env.TRELLIS_BENCH_POSTGRES_URL ? undefined : await startPostgres();
    const url = process.env.TRELLIS_BENCH_POSTGRES_URL ?? server!.url;
    try {
      await (await openPostgresStorage(url)).close();
      await timed(`postgres: ${MESSAGES} messages loaded`, () => loadPostgres(url));
      const storage = await openPostgresStorage(url);
      try {
        report.postgres = await measure('postgres', storage);
      } finally {
        await storage.close();
      }
    } finally {
      await server?.stop();
    }
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}
process.stdout.write(`load average during the run: ${loadavg().map((value) => value.toFixed(2)).join(' ')} on ${cpus().length} CPUs\n`);
const worst = Math.max(...Object.values(report).flatMap((rows) => rows.map((row) => row.p99)));
process.stdout.write(`\nworst p99 ${worst.toFixed(2)} ms; target under ${TARGET_P99_MS} ms: ${worst < TARGET_P99_MS ? 'met' : 'NOT met'}\n`);
process.stdout.write(`results: ${writeResults('archive', { params: { messages: MESSAGES, queries: QUERIES, page: PAGE, correspondents: CORRESPONDENTS }, report, loadAverage: loadavg(), worstP99: worst, targetP99: TARGET_P99_MS })}\n`);
