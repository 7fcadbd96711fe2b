/**
 * One sessions run against a server that is already started: an untimed first pass runs each
 * account's first SCRAM exchange so the generators cache its SaltedPassword (RFC 5802 section 5.1,
 * as real clients do), then it reads the server's memory and CPU with no client, logs N clients in through the load generators (bounded concurrency), reads it again, keeps
 * the latency of a message between two more clients while they are all connected, keeps
 * the sessions idle, checks they are all still connected, reads it a last time and disconnects.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readMachineCpu, readProcSnapshot, RssSampler } from '../servers/proc-stats.ts';
import { onInterruptKill } from '../servers/server-runs.ts';
import type { ServerUnderTest } from '../servers/server-under-test.ts';
import { GeneratorPool } from './generators.ts';
import type { GeneratorSetup } from './generator-protocol.ts';
import { probeMessageLatency, type ProbeLatency } from './message-probe.ts';

export interface SessionsRun {
  server: string;
  sessions: number;
  generators: number;
  loginSeconds: number;
  loginsPerSecond: number;
  /** the untimed first pass that cached every account's SaltedPassword */
  primeSeconds: number;
  /** PBKDF2 runs in the generators during the timed logins (0: all SaltedPassword cached) */
  loginDerivations: number;
  /** server CPU time per login (user + system, all threads), in milliseconds */
  serverCpuMsPerLogin: number;
  /** server CPU seconds per wall second while the clients logged in */
  serverCoresDuringLogin: number;
  /** the whole machine's busy cores while the clients logged in (server, generators and the rest) */
  machineCoresDuringLogin: number;
  /** the fresh server with accounts and no client, before the untimed pass */
  rssBeforeBytes: number;
  /** after the untimed pass, when the timed logins start */
  rssBeforeTimedBytes: number;
  rssAfterLoginBytes: number;
  rssAfterIdleBytes: number;
  rssPeakBytes: number;
  /** (RSS after the idle period - RSS of the fresh server) / sessions */
  rssPerSessionBytes: number;
  /** sessions still connected at the end of the idle period */
  connectedAfterIdle: number;
  /** a message between two more clients while every session is connected (not for the relay, which is no XMPP server) */
  probe: ProbeLatency | undefined;
  closeSeconds: number;
}

/** messages the two probe clients exchange, one at a time */
const PROBE_MESSAGES = 200;

/** `probeUsers` are two accounts beside the generators' ones, for the message probe. */
export async function measureSessionsRun(server: ServerUnderTest, setup: GeneratorSetup, generators: number, idleMs: number, probeUsers: [string, string]): Promise<SessionsRun> {
  // Let start-up work (account creation, caches) settle before the baseline.
  await sleep(2000);
  // Memory per session counts from the fresh server, before the untimed pass, so that whatever
  // that pass leaves behind (heap growth, caches) is charged to the sessions, not hidden.
  const fresh = readProcSnapshot(server.pid);
  let before = fresh;
  let machineBefore = readMachineCpu();
  let rss: RssSampler | undefined;
  const { pool, loginMillis, primeMillis, loginDerivations } = await GeneratorPool.start(generators, setup, {
    prime: true,
    beforeLogin: () => {
      // The timed pass (CPU and login rate) starts here, after the untimed one has closed its streams.
      before = readProcSnapshot(server.pid);
      machineBefore = readMachineCpu();
      rss = new RssSampler(server.pid);
    },
  });
  const forget = onInterruptKill(() => pool.kill());
  try {
    const afterLogin = readProcSnapshot(server.pid);
    const machineAfter = readMachineCpu();
    const probe = setup.protocol !== 'xmpp' ? undefined : await probeMessageLatency({ ...setup, resource: 'probe', timeoutMs: setup.loginTimeoutMs }, probeUsers, PROBE_MESSAGES);
    await sleep(idleMs);
    const connectedAfterIdle = await pool.connected();
    const afterIdle = readProcSnapshot(server.pid);
    const peak = rss!.stop();
    const closeStart = performance.now();
    await pool.close();
    const sessions = setup.usernames.length;
    const loginSeconds = loginMillis / 1000;
    const wallSeconds = (afterLogin.atMillis - before.atMillis) / 1000;
    return {
      server: server.name,
      sessions,
      generators,
      loginSeconds,
      loginsPerSecond: sessions / loginSeconds,
      primeSeconds: primeMillis / 1000,
      loginDerivations,
      serverCpuMsPerLogin: ((afterLogin.cpuSeconds - before.cpuSeconds) * 1000) / sessions,
      serverCoresDuringLogin: (afterLogin.cpuSeconds - before.cpuSeconds) / wallSeconds,
      machineCoresDuringLogin: (machineAfter.busySeconds - machineBefore.busySeconds) / ((machineAfter.atMillis - machineBefore.atMillis) / 1000),
      rssBeforeBytes: fresh.rssBytes,
      rssBeforeTimedBytes: before.rssBytes,
      rssAfterLoginBytes: afterLogin.rssBytes,
      rssAfterIdleBytes: afterIdle.rssBytes,
      rssPeakBytes: Math.max(peak, afterIdle.rssBytes),
      rssPerSessionBytes: (afterIdle.rssBytes - fresh.rssBytes) / sessions,
      connectedAfterIdle,
      probe,
      closeSeconds: (performance.now() - closeStart) / 1000,
    };
  } catch (error) {
    rss?.stop();
    pool.kill();
    throw error;
  } finally {
    forget();
  }
}
