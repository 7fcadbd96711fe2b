/**
 * Presence fan-out, Trellis side by side with Prosody and ejabberd:
 *
 *   npm run bench -- presence [--contacts 100,999] [--changes 10] [--servers trellis,prosody,ejabberd] [--caps]
 *
 * One user, `owner`, has a roster of N contacts `c1`…`cN`, subscribed both ways (RFC 6121
 * section 3) and all online with available presence. The owner changes its presence (a new
 * <status/>) and the benchmark times how long the server takes to get it to every contact
 * (RFC 6121 section 4.4.2: the server broadcasts it to each contact with a subscription `from`
 * or `both`). Rosters are written into each server's storage before it starts (ejabberd's through
 * its HTTP API before any client connects). Every wait is
 * bounded. With `--caps` the owner's presence carries entity capabilities (XEP-0115), as every
 * current client's does, and the owner answers the servers' disco#info queries for them.
 * Prints one table and writes JSON to bench/results/; docs/performance.md explains it.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { clientTransport } from './load/tls-mode.ts';
import { presenceFanOutRun, type FanOutRun } from './load/presence-fan-out.ts';
import { writeResults } from './report/results.ts';
import { spreadOf } from './report/stats.ts';
import { textTable } from './report/table.ts';
import { isListening, stopAllDaemons } from './servers/daemon.ts';
import { waitForQuietMachine } from './servers/proc-stats.ts';
import { startEjabberd } from './servers/ejabberd.ts';
import { startProsody } from './servers/prosody.ts';
import type { ServerStarter, ServerUnderTest } from './servers/server-under-test.ts';
import { startTrellis } from './servers/trellis.ts';

const STARTERS: Record<string, { start: ServerStarter; port: number }> = {
  trellis: { start: startTrellis, port: 52221 },
  prosody: { start: startProsody, port: 52222 },
  ejabberd: { start: startEjabberd, port: 52223 },
};
const DOMAIN = 'bench.local';
const PASSWORD = 'bench-password';
const OWNER = 'owner';

const { values } = parseArgs({
  options: {
    contacts: { type: 'string', default: '100,999' },
    changes: { type: 'string', default: '10' },
    servers: { type: 'string', default: 'trellis,prosody,ejabberd' },
    address: { type: 'string', default: '127.0.0.21' },
    'change-timeout': { type: 'string', default: '10' },
    'quiet-wait': { type: 'string', default: '60' },
    caps: { type: 'boolean', default: false },
  },
});
const params = {
  contacts: values.contacts.split(',').map((count) => Number(count.trim())),
  changes: Number(values.changes),
  servers: values.servers.split(',').map((name) => name.trim()).filter(Boolean),
  address: values.address,
  changeTimeoutMs: Number(values['change-timeout']) * 1000,
  quietWaitSeconds: Number(values['quiet-wait']),
  caps: values.caps,
};
if (params.contacts.some((count) => !Number.isInteger(count) || count < 1 || count > 5000)) fail('--contacts is a list of counts from 1 to 5000');
if (!Number.isInteger(params.changes) || params.changes < 1 || params.changes > 1000) fail('--changes is a count from 1 to 1000');
if (!(params.changeTimeoutMs > 0)) fail('--change-timeout is a number of seconds');
for (const name of params.servers) if (!STARTERS[name]) fail(`unknown server "${name}" (known: ${Object.keys(STARTERS).join(', ')})`);

let current: ServerUnderTest | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.allSettled([current?.stop(), stopAllDaemons()]).finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  process.stderr.write(`presence benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await Promise.allSettled([current?.stop(), stopAllDaemons()]);
  process.exitCode = 1;
}

async function main(): Promise<void> {
  const runs: FanOutRun[] = [];
  const versions: Record<string, string> = {};
  for (const contactCount of params.contacts) {
    const contacts = Array.from({ length: contactCount }, (_, index) => `c${index + 1}`);
    for (const name of params.servers) {
      const { start, port } = STARTERS[name]!;
      if (isListening(params.address, port)) throw new Error(`${params.address}:${port} is already in use`);
      if (params.quietWaitSeconds > 0) await waitForQuietMachine(0.2, params.quietWaitSeconds * 1000);
      process.stderr.write(`${name}: ${contactCount} contacts, starting on ${params.address}:${port}\n`);
      const started = performance.now();
      current = await start({
        address: params.address,
        port,
        domain: DOMAIN,
        usernames: [OWNER, ...contacts],
        password: PASSWORD,
        scramIterations: 4096,
        rosters: [{ owner: OWNER, contacts }, ...contacts.map((contact) => ({ owner: contact, contacts: [OWNER] }))],
      });
      process.stderr.write(`${name}: accounts and rosters written, server up in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      try {
        versions[name] = current.version;
        const run = await presenceFanOutRun(current, {
          address: params.address,
          port,
          domain: DOMAIN,
          password: PASSWORD,
          owner: OWNER,
          contacts,
          changes: params.changes,
          changeTimeoutMs: params.changeTimeoutMs,
          caps: params.caps,
        });
        runs.push(run);
        process.stderr.write(`${name}: ${contactCount} contacts, all reached in ${spreadOf(run.allReachedMs).median.toFixed(2)} ms (median)\n`);
      } finally {
        await current.stop();
        current = undefined;
        await sleep(200);
      }
    }
  }
  printReport(runs, versions);
  process.stdout.write(`\nresults: ${writeResults('presence', { params, versions, runs })}\n`);
}

function printReport(runs: FanOutRun[], versions: Record<string, string>): void {
  const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
  const rows = runs.map((run) => {
    const all = spreadOf(run.allReachedMs);
    return [
      run.server,
      String(run.contacts),
      `${run.completeChanges}/${run.changes}`,
      fixed(all.median, 2),
      `${fixed(all.min, 2)}-${fixed(all.max, 2)}`,
      fixed(spreadOf(run.firstReachedMs).median, 2),
      fixed(spreadOf(run.medianContactMs).median, 2),
      fixed(run.serverCpuMsPerChange, 1),
      fixed(run.serverRssBytes / 2 ** 20, 1),
      fixed(run.loginSeconds, 1),
    ];
  });
  process.stdout.write(`\npresence fan-out: ${params.changes} presence changes per run, one owner with N contacts subscribed both ways, all online; ${params.caps ? "the owner's presence with entity capabilities; " : ''}${clientTransport()}\n\n`);
  process.stdout.write(
    textTable(['server', 'contacts', 'complete', 'all p50 ms', 'all min-max ms', 'first p50 ms', 'median contact ms', 'CPU ms/change', 'RSS MB', 'login s'], rows) + '\n',
  );
  for (const count of params.contacts) {
    const trellis = runs.find((run) => run.server === 'trellis' && run.contacts === count);
    if (!trellis) continue;
    for (const other of runs.filter((run) => run.server !== 'trellis' && run.contacts === count)) {
      const ratio = spreadOf(other.allReachedMs).median / spreadOf(trellis.allReachedMs).median;
      process.stdout.write(`\n${count} contacts: ${other.server}/Trellis time to reach all (medians) ${fixed(ratio, 2)}, server CPU per change ${fixed(other.serverCpuMsPerChange / trellis.serverCpuMsPerChange, 2)}`);
    }
  }
  process.stdout.write('\n');
  for (const [name, version] of Object.entries(versions)) process.stdout.write(`\n${name}: ${version}`);
  process.stdout.write('\n');
}

function fail(message: string): never {
  process.stderr.write(`presence: ${message}\n`);
  process.exit(2);
}
