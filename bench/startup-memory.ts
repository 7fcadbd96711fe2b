/**
 * Resident memory of a freshly started server with no session, Trellis side by side with Prosody
 * and ejabberd:
 *
 *   npm run bench -- startup-memory [--rounds 3] [--after 5]
 *                                   [--servers trellis,prosody,ejabberd,node-idle,node-tls]
 *                                   [--address 127.0.0.21]
 *
 * Each round starts every server in turn, waits until its client port listens and then `--after`
 * seconds, reads /proc/PID/status (VmRSS, and its RssAnon and RssFile parts) and stops it.
 * Trellis runs its default configuration (one host, a self-signed certificate made in a fresh
 * data directory; bench/servers/trellis-defaults.ts); Prosody and ejabberd the configurations of
 * the other scenarios, without accounts. `node-idle` and `node-tls` are Node itself, the runtime
 * Trellis runs on (bench/servers/node-floor.ts): listening and nothing else, and with what any
 * server on Node that speaks TLS and stores in SQLite must load. Memory hardly depends on the
 * machine's load, but the load average is recorded with the figures. Prints one table and
 * writes JSON to bench/results/.
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { writeResults } from './report/results.ts';
import { spreadOf } from './report/stats.ts';
import { fixed, textTable } from './report/table.ts';
import { isListening, stopAllDaemons } from './servers/daemon.ts';
import { startEjabberd } from './servers/ejabberd.ts';
import { startNodeFloor } from './servers/node-floor.ts';
import { readResidentMemory, type ResidentMemory } from './servers/proc-stats.ts';
import { startProsody } from './servers/prosody.ts';
import type { ServerUnderTest } from './servers/server-under-test.ts';
import { startTrellisDefaults } from './servers/trellis-defaults.ts';

const C2S_PORTS: Record<string, number> = { trellis: 52221, prosody: 52222, ejabberd: 52223, 'node-idle': 52226, 'node-tls': 52227 };
/** Trellis's default configuration listens for servers too, and so does the floor with TLS */
const S2S_PORTS: Record<string, number> = { trellis: 52225, 'node-tls': 52228 };

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    after: { type: 'string', default: '5' },
    servers: { type: 'string', default: 'trellis,prosody,ejabberd,node-idle,node-tls' },
    address: { type: 'string', default: '127.0.0.21' },
  },
});
const rounds = Number(values.rounds);
const afterSeconds = Number(values.after);
const servers = values.servers.split(',').map((name) => name.trim()).filter(Boolean);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) fail('--rounds is a count from 1 to 20');
if (!(afterSeconds >= 0 && afterSeconds <= 600)) fail('--after is a number of seconds from 0 to 600');
for (const name of servers) if (!(name in C2S_PORTS)) fail(`unknown server "${name}" (known: ${Object.keys(C2S_PORTS).join(', ')})`);

interface Run extends ResidentMemory {
  server: string;
  round: number;
  version: string;
  /** the 1-minute load average when the memory was read */
  load1: number;
}

function start(name: string): Promise<ServerUnderTest> {
  const port = C2S_PORTS[name]!;
  if (isListening(values.address, port)) throw new Error(`${values.address}:${port} is already in use; stop whatever listens there first`);
  if (name === 'trellis') return startTrellisDefaults(values.address, port, S2S_PORTS.trellis!);
  if (name === 'node-idle' || name === 'node-tls') return startNodeFloor(name, values.address, port, S2S_PORTS['node-tls']!);
  const options = { address: values.address, port, domain: 'bench.local', usernames: [], password: 'bench-password', scramIterations: 4096 };
  return name === 'prosody' ? startProsody(options) : startEjabberd(options);
}

const mb = (bytes: number) => fixed(bytes / 1048576, 1);
const runs: Run[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    for (const name of servers) {
      const server = await start(name);
      try {
        await sleep(afterSeconds * 1000);
        const memory = readResidentMemory(server.pid);
        const run = { server: name, round, version: server.version, load1: loadavg()[0]!, ...memory };
        runs.push(run);
        process.stdout.write(`${name} round ${round}: ${mb(run.rssBytes)} MB resident (${mb(run.anonBytes)} anonymous, ${mb(run.fileBytes)} file-backed), load average ${fixed(run.load1, 2)}\n`);
      } finally {
        await server.stop();
      }
    }
  }
} finally {
  await stopAllDaemons();
}

const rows = servers.map((name) => {
  const own = runs.filter((run) => run.server === name);
  const median = (pick: (run: Run) => number) => spreadOf(own.map(pick));
  const rss = median((run) => run.rssBytes);
  return [name, String(own.length), `${mb(rss.median)} (${mb(rss.min)}–${mb(rss.max)})`, mb(median((run) => run.anonBytes).median), mb(median((run) => run.fileBytes).median)];
});
process.stdout.write(`\nresident memory ${afterSeconds} s after listening, no session (medians of ${rounds} rounds):\n\n`);
process.stdout.write(textTable(['server', 'rounds', 'RSS MB (range)', 'anonymous MB', 'file-backed MB'], rows) + '\n\n');
const loads = runs.map((run) => run.load1);
process.stdout.write(`load average (1 min) while measuring: ${fixed(Math.min(...loads), 2)}–${fixed(Math.max(...loads), 2)} on ${process.env.HOSTNAME ?? 'this machine'}\n`);
process.stdout.write(`results: ${writeResults('startup-memory', { afterSeconds, rounds, versions: Object.fromEntries(runs.map((run) => [run.server, run.version])), runs })}\n`);

function fail(message: string): never {
  process.stderr.write(`startup-memory: ${message}\n`);
  process.exit(2);
}
