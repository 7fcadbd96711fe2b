/**
 * Every scenario, one after the other, then one table: each performance target with Trellis's
 * figure, the other server's from the same run, the ratio and whether it is met.
 *
 *   npm run bench -- summary [--scenarios messaging,fixed-rate,sessions,presence,federation,flood,muc,startup-memory,soak]
 *                            [--tls off|on|both] [--latest]
 *
 * `--tls on` runs every client scenario with TLS as deployed (load/tls-mode.ts: STARTTLS, TLS 1.3,
 * one certificate and one cipher suite for every server; the TCP relay never does); federation's
 * server links are TLS either way. `--tls both` runs them all twice, TLS off then on, and prints a table for each.
 * `--latest` runs nothing and reads the newest results file of each scenario in bench/results/
 * (with TLS off, on, or both, as `--tls` says). The soak (an hour) runs only when `--scenarios`
 * names it (with `--tls on`, its capacity and its clients with TLS), and `--latest` reports its newest run.
 * Each table gives the first round's targets, then the second round's for that TLS setting.
 * The scenarios run with the arguments below (the ones docs/performance.md reports); the whole
 * run takes about 35 minutes without `muc` and 45 with it, most of it waiting for the machine to be
 * idle between servers and for 1,000 occupants to enter a room.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_TLS_ENV } from './load/tls-mode.ts';
import { writeResults } from './report/results.ts';
import { textTable } from './report/table.ts';
import { targetRows, type ScenarioResults } from './report/targets.ts';

const SCENARIOS: Record<keyof ScenarioResults, string[]> = {
  // 1 and 6: throughput, three rounds per server, and the TCP relay driven the same way
  messaging: ['--repeat', '3', '--servers', 'trellis,prosody,ejabberd,relay'],
  // 2: fixed rates, three rounds per server
  'fixed-rate': ['--rates', '2000,10000', '--repeat', '3', '--servers', 'trellis,prosody,ejabberd,relay'],
  // 3: idle sessions and login rate, up to the most sessions a process may hold here (20,000 open files)
  sessions: ['--sessions', '2000,10000,19000', '--generators', '4', '--servers', 'trellis,prosody,ejabberd,relay'],
  // 4: presence fan-out
  presence: ['--contacts', '100,999', '--servers', 'trellis,prosody,ejabberd'],
  // 5: federation, three rounds of throughput per pair (the pairs taking turns), cold links in the first
  federation: ['--servers', 'trellis-trellis,prosody-prosody,ejabberd-ejabberd,prosody-ejabberd,trellis-prosody,trellis-ejabberd', '--links', '9', '--repeat', '3'],
  // 7: a flooding client and remote domain while 50 users chat
  flood: ['--servers', 'trellis,prosody'],
  // 8: group-chat fan-out to 1,000 occupants
  muc: ['--occupants', '1000', '--servers', 'trellis,prosody,ejabberd'],
  // 9: resident memory of a fresh server, default configuration, no session
  'startup-memory': ['--rounds', '3', '--servers', 'trellis,prosody,ejabberd,node-idle,node-tls'],
  // 10: an hour at half the measured capacity; run only when named in --scenarios
  soak: ['--minutes', '60'],
};
/** scenarios a plain `summary` runs; `--latest` reads the newest file of every scenario */
const DEFAULT_RUN = Object.keys(SCENARIOS).filter((name) => name !== 'soak');
const RESULTS_DIR = join(import.meta.dirname, 'results');

const { values } = parseArgs({
  options: {
    scenarios: { type: 'string' },
    latest: { type: 'boolean', default: false },
    tls: { type: 'string', default: 'off' },
  },
});
const TLS_MODES: Record<string, boolean[]> = { off: [false], on: [true], both: [false, true] };
const tlsModes = TLS_MODES[values.tls];
if (!tlsModes) {
  process.stderr.write(`summary: --tls is off, on or both, not "${values.tls}"\n`);
  process.exit(2);
}
const chosen = (values.scenarios ?? (values.latest ? Object.keys(SCENARIOS) : DEFAULT_RUN).join(',')).split(',').map((name) => name.trim()) as (keyof ScenarioResults)[];
for (const name of chosen) {
  if (!(name in SCENARIOS)) {
    process.stderr.write(`summary: unknown scenario "${name}"; scenarios: ${Object.keys(SCENARIOS).join(', ')}\n`);
    process.exit(2);
  }
}

const tables: { tls: boolean; files: Record<string, string>; rows: ReturnType<typeof targetRows> }[] = [];
for (const tls of tlsModes) {
  const results: ScenarioResults = {};
  const files: Record<string, string> = {};
  for (const name of chosen) {
    const file = values.latest ? newestResults(name, tls) : await runScenario(name, SCENARIOS[name], tls);
    if (file === undefined) {
      process.stderr.write(`summary: ${name} left no results file${values.latest ? ` with client TLS ${tls ? 'on' : 'off'}` : ''}\n`);
      continue;
    }
    files[name] = file;
    results[name] = JSON.parse(readFileSync(file, 'utf8'));
  }
  tables.push({ tls, files, rows: targetRows(results, tls) });
}

for (const { tls, files, rows } of tables) {
  process.stdout.write(`\nperformance targets, client TLS ${tls ? 'on' : 'off'} (${new Date().toISOString()}):\n\n`);
  process.stdout.write(textTable(['target', 'Trellis', 'other', 'ratio', 'met'], rows.map((row) => [row.target, row.trellis, row.other, row.ratio, row.met])) + '\n\n');
  for (const [name, file] of Object.entries(files)) process.stdout.write(`${name}: ${file}\n`);
}
process.stdout.write(`\nresults: ${writeResults('summary', { scenarios: SCENARIOS, tables })}\n`);

/** Runs `bench/<name>.ts`, passing its output through, and returns the results file it names. */
function runScenario(name: string, args: string[], tls: boolean): Promise<string | undefined> {
  process.stdout.write(`\n=== ${name}: ${tls ? `${BENCH_TLS_ENV}=1 ` : ''}node bench/${name}.ts ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const env = { ...process.env, [BENCH_TLS_ENV]: tls ? '1' : '0' };
    const child = spawn(process.execPath, [join(import.meta.dirname, `${name}.ts`), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    child.once('close', () => resolve(/^results: (.+\.json)$/m.exec(output)?.[1]));
  });
}

/** The newest results file of a scenario run with TLS on or off (files from before the flag had it off). */
function newestResults(name: string, tls: boolean): string | undefined {
  const newest = readdirSync(RESULTS_DIR)
    .filter((file) => new RegExp(`^${name}-\\d{4}-.*Z\\.json$`).test(file))
    .filter((file) => (JSON.parse(readFileSync(join(RESULTS_DIR, file), 'utf8')).tls ?? false) === tls)
    .sort()
    .at(-1);
  return newest === undefined ? undefined : join(RESULTS_DIR, newest);
}
