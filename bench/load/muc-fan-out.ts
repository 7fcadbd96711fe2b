/**
 * One group-chat fan-out run against a started server with a MUC service: N users log in, the
 * first creates a room (XEP-0045 section 10.1, accepting the default configuration as an instant
 * room), the others enter it `joinConcurrency` at a time (section 7.2, no history), and once the
 * room is quiet the first sends a warm-up message and `messages` measured ones, one at a time.
 * Each groupchat message goes to every occupant, the sender included (section 7.4); every client
 * notes when a message's marker reaches it.
 *
 * Times are taken in this one process (performance.now()), from just before the sender's write
 * to each occupant's socket read, so they include this process reading N sockets, as for every
 * server alike. Every wait is bounded.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchClient } from './bench-client.ts';
import { readMachineCpu, readProcSnapshot } from '../servers/proc-stats.ts';
import type { ServerUnderTest } from '../servers/server-under-test.ts';

export interface MucFanOutOptions {
  address: string;
  port: number;
  domain: string;
  password: string;
  usernames: string[];
  /** the room's bare JID */
  room: string;
  messages: number;
  joinConcurrency: number;
  /** longest wait for one message to reach every occupant, and for one occupant to enter */
  timeoutMs: number;
  /** after the clients left, wait (up to timeoutMs) until the server is idle */
  waitForIdleServer?: boolean;
}

export interface MucFanOutRun {
  server: string;
  occupants: number;
  messages: number;
  /** messages that reached every occupant within the timeout */
  completeMessages: number;
  /** per measured message: until the last occupant had it (a message that timed out counts as the timeout) */
  allReachedMs: number[];
  /** per measured message: until the first occupant had it */
  firstReachedMs: number[];
  /** per measured message: the median over occupants */
  medianOccupantMs: number[];
  /** server CPU time (user + system) over the measured messages, divided by their number */
  serverCpuMsPerMessage: number;
  /** busy cores outside the server and this process while the messages ran */
  otherCores: number;
  /** from the first entry after the creator's to the last occupant's own presence (status 110) */
  joinSeconds: number;
  /** per entry: from the presence sent to the occupant's own presence back */
  joinLatencyMs: number[];
  /** server CPU seconds over all the entries and the presence they broadcast */
  joinServerCpuSeconds: number;
  /** after the entries, until no client had received anything for QUIET_MS */
  settleSeconds: number;
  serverRssBytes: number;
  loginSeconds: number;
}

const LOGIN_CONCURRENCY = 16;
const PAUSE_BETWEEN_MESSAGES_MS = 200;
/** the room counts as settled once no client received anything for this long */
const QUIET_MS = 1000;
const NS_MUC = 'http://jabber.org/protocol/muc';
/** the body of message k ends in this marker */
const marker = (message: number) => `mucfan-${message}<`;
const MARKER_PATTERN = /mucfan-(\d+)</g;
/** XEP-0045 section 7.2.3: the occupant's own presence carries status 110 */
const SELF_PRESENCE = /code=["']110["']/;

export async function mucFanOutRun(server: ServerUnderTest, options: MucFanOutOptions): Promise<MucFanOutRun> {
  const count = options.usernames.length;
  const total = options.messages + 1;
  // arrivals[message][occupant]: performance.now() when it arrived, 0 until then
  const arrivals = Array.from({ length: total }, () => new Float64Array(count));
  const reached = new Int32Array(total);
  const joined = new Float64Array(count);
  const joinWaiters = new Map<number, () => void>();
  const clients: BenchClient[] = new Array(count);
  let lastReceivedAt = performance.now();
  const received = new Float64Array(count);
  let wake: (() => void) | undefined;
  /** what the creator receives until its configuration is answered */
  let ownerReplies: string[] | undefined = [];

  const watch = (client: BenchClient, index: number) => {
    let tail = '';
    client.takeIncoming((text) => {
      const now = performance.now();
      lastReceivedAt = now;
      received[index]! += text.length;
      const scanned = tail + text;
      if (index === 0) ownerReplies?.push(text);
      if (joined[index] === 0 && joinWaiters.has(index) && SELF_PRESENCE.test(scanned)) {
        joined[index] = now;
        joinWaiters.get(index)!();
      }
      for (const match of scanned.matchAll(MARKER_PATTERN)) {
        const message = Number(match[1]);
        if (message < total && arrivals[message]![index] === 0) {
          arrivals[message]![index] = now;
          if (++reached[message]! === count) wake?.();
        }
      }
      // A pattern split over two reads is found in the next one; one seen twice counts once.
      tail = scanned.slice(-32);
    });
  };
  const bounded = <T>(promise: Promise<T>, what: () => string): Promise<T> =>
    Promise.race([promise, sleep(options.timeoutMs).then(() => Promise.reject(new Error(`${what()}: nothing after ${options.timeoutMs} ms`)))]);
  const enter = async (index: number): Promise<number> => {
    const started = performance.now();
    const entered = new Promise<void>((resolve) => joinWaiters.set(index, resolve));
    const nick = options.usernames[index]!;
    clients[index]!.queue(`<presence to='${options.room}/${nick}'><x xmlns='${NS_MUC}'><history maxstanzas='0'/></x></presence>`);
    await bounded(entered, () => `${nick} entering ${options.room} (${clients[index]!.closedBecause?.message ?? 'connected'}, ${received[index]} characters received)`);
    return joined[index]! - started;
  };

  const loginStart = performance.now();
  try {
    let next = 0;
    const loginWorker = async (): Promise<void> => {
      while (next < count) {
        const index = next++;
        const client = await BenchClient.login({
          address: options.address, port: options.port, domain: options.domain, username: options.usernames[index]!,
          password: options.password, resource: 'bench', mechanism: 'SCRAM-SHA-1', timeoutMs: 30_000,
        });
        clients[index] = client;
        watch(client, index);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOGIN_CONCURRENCY, count) }, loginWorker));
    const loginSeconds = (performance.now() - loginStart) / 1000;

    // The creator enters, which creates the room locked, and unlocks it as an instant room (section 10.1.2).
    await enter(0);
    clients[0]!.queue(`<iq type='set' id='mucfan-config' to='${options.room}'><query xmlns='${NS_MUC}#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    const answer = await bounded((async () => {
      for (;;) {
        const iq = /<iq\b[^>]*id=["']mucfan-config["'][^>]*>/.exec(ownerReplies!.join(''));
        if (iq) return iq[0];
        await sleep(20);
      }
    })(), () => 'configuring the room');
    if (/type=["']error["']/.test(answer)) throw new Error(`the room's configuration was refused: ${ownerReplies!.join('').slice(-500)}`);
    ownerReplies = undefined;

    const joinCpuStart = readProcSnapshot(server.pid).cpuSeconds;
    const joinStart = performance.now();
    const joinLatencyMs: number[] = [];
    next = 1;
    const joinWorker = async (): Promise<void> => {
      while (next < count) {
        const broken = clients.find((client) => client.closedBecause);
        if (broken) throw new Error(`${broken.fullJid}: ${broken.closedBecause!.message}`);
        const index = next++;
        joinLatencyMs.push(await enter(index));
        if (index % 100 === 0) process.stderr.write(`${server.name}: ${index + 1} occupants after ${((performance.now() - joinStart) / 1000).toFixed(1)} s\n`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.joinConcurrency, count - 1) }, joinWorker));
    const joinSeconds = (performance.now() - joinStart) / 1000;
    const settleStart = performance.now();
    while (performance.now() - lastReceivedAt < QUIET_MS && performance.now() - settleStart < options.timeoutMs * 6) await sleep(100);
    const settleSeconds = (performance.now() - settleStart) / 1000 - QUIET_MS / 1000;
    const joinServerCpuSeconds = readProcSnapshot(server.pid).cpuSeconds - joinCpuStart;

    const allReachedMs: number[] = [];
    const firstReachedMs: number[] = [];
    const medianOccupantMs: number[] = [];
    let cpuStart = readProcSnapshot(server.pid);
    let machineStart = readMachineCpu();
    let ownStart = process.cpuUsage();
    for (let message = 0; message < total; message++) {
      // Message 0 is the warm-up.
      if (message === 1) [cpuStart, machineStart, ownStart] = [readProcSnapshot(server.pid), readMachineCpu(), process.cpuUsage()];
      const sentAt = performance.now();
      clients[0]!.queue(`<message to='${options.room}' type='groupchat' id='mucfan-${message}'><body>${marker(message)}/body></message>`);
      const deadline = sentAt + options.timeoutMs;
      while (reached[message]! < count && performance.now() < deadline) {
        const broken = clients.find((client) => client.closedBecause);
        if (broken) throw new Error(`${broken.fullJid}: ${broken.closedBecause!.message}`);
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(50)]);
      }
      wake = undefined;
      if (message === 0) continue;
      const times = [...arrivals[message]!].filter((at) => at > 0).map((at) => at - sentAt).sort((a, b) => a - b);
      allReachedMs.push(reached[message] === count ? times.at(-1)! : options.timeoutMs);
      firstReachedMs.push(times[0] ?? NaN);
      medianOccupantMs.push(times[Math.floor(times.length / 2)] ?? NaN);
      await sleep(PAUSE_BETWEEN_MESSAGES_MS);
    }
    const end = readProcSnapshot(server.pid);
    const machineEnd = readMachineCpu();
    const own = process.cpuUsage(ownStart);
    const seconds = (end.atMillis - cpuStart.atMillis) / 1000;
    const serverCores = (end.cpuSeconds - cpuStart.cpuSeconds) / seconds;
    const machineCores = (machineEnd.busySeconds - machineStart.busySeconds) / ((machineEnd.atMillis - machineStart.atMillis) / 1000);
    const ownCores = (own.user + own.system) / 1e6 / seconds;
    return {
      server: server.name,
      occupants: count,
      messages: options.messages,
      completeMessages: [...reached].slice(1).filter((arrived) => arrived === count).length,
      allReachedMs,
      firstReachedMs,
      medianOccupantMs,
      serverCpuMsPerMessage: ((end.cpuSeconds - cpuStart.cpuSeconds) * 1000) / options.messages,
      otherCores: Math.max(0, machineCores - serverCores - ownCores),
      joinSeconds,
      joinLatencyMs,
      joinServerCpuSeconds,
      settleSeconds,
      serverRssBytes: end.rssBytes,
      loginSeconds,
    };
  } finally {
    await Promise.all(clients.filter(Boolean).map((client) => client.close()));
    // Each departure is announced to those still in the room: a server writing a CPU profile
    // finishes that before it is stopped (and writes the profile in time).
    if (options.waitForIdleServer) await serverIdle(server.pid, options.timeoutMs);
  }
}

/** Waits (at most `timeoutMs`) until the server uses under a tenth of a core over half a second. */
async function serverIdle(pid: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = readProcSnapshot(pid);
  while (performance.now() < deadline) {
    await sleep(500);
    const now = readProcSnapshot(pid);
    if (now.cpuSeconds - last.cpuSeconds < 0.05) return;
    last = now;
  }
}
