/**
 * Idle authenticated sessions, side by side: how fast each server logs clients in and how much
 * memory a session costs.
 *
 *   npm run bench -- sessions [--sessions 2000,10000] [--servers trellis,prosody,ejabberd,relay]
 *                             [--login-concurrency 200] [--generators 2] [--idle 5] [--quiet-wait 120]
 *
 * For each session count and server: a fresh server with that many accounts; an untimed first pass
 * runs each account's first SCRAM exchange (then aborts it) so that the generators cache its
 * SaltedPassword, as real clients may (RFC 5802 section 5.1); its RSS and CPU read with no client,
 * then every client logs in (timed, with the cached SaltedPassword: no PBKDF2 in the generators) over plain TCP, or STARTTLS with TRELLIS_BENCH_TLS=1 (stream, SCRAM, bind, presence, a ping round
 * trip), at most --login-concurrency at a time over all generator processes; RSS again; two more
 * clients exchange 200 messages one at a time (their latency while every session is connected); an idle
 * period, a check that every session is still connected, RSS a last time, then all disconnect.
 * Column meanings and measured figures: docs/performance.md.
 */
import { parseArgs } from 'node:util';
import type { BenchMechanism } from './load/bench-client.ts';
import { measureSessionsRun, type SessionsRun } from './load/sessions-run.ts';
import { clientTransport } from './load/tls-mode.ts';
import { writeResults } from './report/results.ts';
import { fixed, textTable } from './report/table.ts';
import { raiseFileLimit } from './servers/file-limit.ts';
import { SERVERS } from './servers/registry.ts';
import { checkServerNames, stopEverything, stopServersOnInterrupt, withServer } from './servers/server-runs.ts';

const DOMAIN = 'bench.local';
const PASSWORD = 'bench-password';
/** sockets each process keeps for itself beyond the client connections */
const SPARE_FILES = 200;

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '2000,10000' },
    servers: { type: 'string', default: 'trellis,prosody,ejabberd,relay' },
    'login-concurrency': { type: 'string', default: '200' },
    generators: { type: 'string', default: '2' },
    idle: { type: 'string', default: '5' },
    address: { type: 'string', default: '127.0.0.21' },
    mechanism: { type: 'string', default: 'SCRAM-SHA-1' },
    iterations: { type: 'string', default: '4096' },
    'quiet-wait': { type: 'string', default: '120' },
  },
});

const params = {
  sessions: values.sessions.split(',').map(Number),
  servers: values.servers.split(',').map((name) => name.trim()).filter(Boolean),
  loginConcurrency: Number(values['login-concurrency']),
  generators: Number(values.generators),
  idleSeconds: Number(values.idle),
  address: values.address,
  mechanism: values.mechanism as BenchMechanism,
  scramIterations: Number(values.iterations),
  quietWaitSeconds: Number(values['quiet-wait']),
};
checkServerNames(params.servers, fail);
if (!params.sessions.every((count) => Number.isInteger(count) && count >= 2 * params.generators)) fail('--sessions is a list of counts, each at least 2 per generator');
if (!Number.isInteger(params.generators) || params.generators < 1) fail('--generators must be a positive integer');
if (!Number.isInteger(params.loginConcurrency) || params.loginConcurrency < params.generators) fail('--login-concurrency must be an integer, at least one per generator');
if (!(params.idleSeconds >= 0) || !(params.quietWaitSeconds >= 0)) fail('--idle and --quiet-wait are numbers of seconds');
if (!Number.isInteger(params.scramIterations) || params.scramIterations < 1) fail('--iterations must be a positive integer');
if (params.mechanism !== 'SCRAM-SHA-1' && params.mechanism !== 'SCRAM-SHA-256') fail('--mechanism is SCRAM-SHA-1 or SCRAM-SHA-256');

const fileLimit = raiseFileLimit();
const most = Math.max(...params.sessions);
if (most + SPARE_FILES > fileLimit || Math.ceil(most / params.generators) + SPARE_FILES > fileLimit) {
  fail(`${most} sessions need more than the ${fileLimit} open files each process may have (the server holds one per session)`);
}

stopServersOnInterrupt();
try {
  await main();
} catch (error) {
  process.stderr.write(`sessions benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopEverything();
  process.exitCode = 1;
}

async function main(): Promise<void> {
  const runs: SessionsRun[] = [];
  const servers: Record<string, { version: string; settings: string[] }> = {};
  for (const count of params.sessions) {
    const usernames = Array.from({ length: count }, (_, index) => `u${index + 1}`);
    const probeUsers: [string, string] = ['probe1', 'probe2'];
    for (const name of params.servers) {
      process.stderr.write(`${name}: starting with ${count} accounts\n`);
      const options = { address: params.address, domain: DOMAIN, usernames, password: PASSWORD, scramIterations: params.scramIterations };
      const run = await withServer(name, { ...options, usernames: [...usernames, ...probeUsers] }, params.quietWaitSeconds, (server, port) => {
        servers[name] = { version: server.version, settings: server.settings };
        process.stderr.write(`${name}: logging in ${count} clients\n`);
        return measureSessionsRun(
          server,
          {
            ...options,
            port,
            resource: 'bench',
            mechanism: params.mechanism,
            protocol: SERVERS[name]!.protocol,
            loginConcurrency: Math.ceil(params.loginConcurrency / params.generators),
            loginTimeoutMs: 60_000,
            window: 1,
            bodyBytes: 90,
            maxMessages: 0,
          },
          params.generators,
          params.idleSeconds * 1000,
          probeUsers,
        );
      });
      runs.push(run);
      process.stderr.write(`${name}: ${count} sessions, ${Math.round(run.loginsPerSecond)} logins/s, ${fixed(run.rssPerSessionBytes / 1024, 1)} KB per session\n`);
    }
  }
  printReport(runs, servers);
  process.stdout.write(`\nresults: ${writeResults('sessions', { params, servers, runs })}\n`);
}

function printReport(runs: SessionsRun[], servers: Record<string, { version: string; settings: string[] }>): void {
  const headers = ['server', 'sessions', 'prime s', 'PBKDF2 in timed pass', 'login s', 'logins/s', 'CPU ms/login', 'cores', 'machine', 'rest ms/login', 'RSS fresh MB', 'RSS after prime MB', 'RSS logged in MB', 'RSS idle MB', 'KB/session', 'connected', 'msg p50 ms', 'msg p99 ms'];
  const mb = (bytes: number) => fixed(bytes / 2 ** 20, 1);
  const rows = runs.map((run) => [
    run.server,
    String(run.sessions),
    fixed(run.primeSeconds, 1),
    String(run.loginDerivations),
    fixed(run.loginSeconds, 2),
    fixed(run.loginsPerSecond, 0),
    fixed(run.serverCpuMsPerLogin, 3),
    fixed(run.serverCoresDuringLogin, 2),
    fixed(run.machineCoresDuringLogin, 2),
    fixed(((run.machineCoresDuringLogin - run.serverCoresDuringLogin) * 1000) / run.loginsPerSecond, 3),
    mb(run.rssBeforeBytes),
    mb(run.rssBeforeTimedBytes),
    mb(run.rssAfterLoginBytes),
    mb(run.rssAfterIdleBytes),
    fixed(run.rssPerSessionBytes / 1024, 1),
    String(run.connectedAfterIdle) + (run.connectedAfterIdle < run.sessions ? '!' : ''),
    run.probe ? fixed(run.probe.p50Ms, 2) : '-',
    run.probe ? fixed(run.probe.p99Ms, 2) : '-',
  ]);
  process.stdout.write(
    `\nsessions: ${params.generators} generator process(es), at most ${params.loginConcurrency} logins in flight, ${params.idleSeconds} s idle, ${clientTransport()}, ${params.mechanism}, ${params.scramIterations} PBKDF2 iterations, open-file limit ${fileLimit}\n` +
      '"rest ms/login": CPU of the rest of the machine (the load generators, mostly) per login, (machine - cores) / logins per second\n' +
      'timed logins use cached SaltedPassword (RFC 5802 section 5.1): an untimed first pass ("prime s") ran each account\'s first SCRAM exchange and cached it per password, salt and iteration count\n\n',
  );
  process.stdout.write(textTable(headers, rows) + '\n');
  for (const count of params.sessions) {
    const trellis = runs.find((run) => run.server === 'trellis' && run.sessions === count);
    if (!trellis) continue;
    for (const other of runs.filter((run) => run.server !== 'trellis' && run.sessions === count)) {
      process.stdout.write(
        `\n${count} sessions, Trellis/${other.server}: logins/s ${fixed(trellis.loginsPerSecond / other.loginsPerSecond, 2)}, CPU ms/login ${fixed(trellis.serverCpuMsPerLogin / other.serverCpuMsPerLogin, 2)}, KB/session ${fixed(trellis.rssPerSessionBytes / other.rssPerSessionBytes, 2)}`,
      );
    }
    process.stdout.write('\n');
  }
  if (runs.some((run) => run.connectedAfterIdle < run.sessions)) process.stdout.write('\n! some sessions were closed during the idle period: see "connected"\n');
  for (const [name, server] of Object.entries(servers)) process.stdout.write(`\n${name}: ${server.version}\n${server.settings.map((line) => `  ${line}`).join('\n')}\n`);
}

function fail(message: string): never {
  process.stderr.write(`sessions: ${message}\n`);
  process.exit(2);
}
