/**
 * One presence fan-out run against a started server whose rosters are in place: the contacts
 * log in (each sends initial presence), then the owner; a warm-up change and `changes`
 * measured ones follow, one at a time. Each change is an available presence with a fresh
 * <status/> (RFC 6121 section 4.4.2); every contact notes when that status reaches it.
 *
 * With `caps`, each of the owner's presences carries entity capabilities (XEP-0115 section 4),
 * as every current client's does, and the owner answers the server's disco#info query for them
 * (section 6.3); a server that learns what the owner wants notified (XEP-0163 section 4.3) does
 * that work for each contact it broadcasts to.
 *
 * Times are taken in this one process (performance.now()), from just before the owner's write
 * to each contact's socket read. They include this process reading N sockets, which is part of
 * the figure for both servers alike.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { capsHash, type CapsInput } from '../../src/modules/disco/caps.ts';
import { BenchClient } from './bench-client.ts';
import { readProcSnapshot } from '../servers/proc-stats.ts';
import type { ServerUnderTest } from '../servers/server-under-test.ts';

export interface FanOutOptions {
  address: string;
  port: number;
  domain: string;
  password: string;
  owner: string;
  contacts: string[];
  changes: number;
  /** longest wait for one change to reach every contact */
  changeTimeoutMs: number;
  /** the owner's presence carries entity capabilities */
  caps: boolean;
}

export interface FanOutRun {
  server: string;
  contacts: number;
  changes: number;
  /** changes that reached every contact within the timeout */
  completeChanges: number;
  /** per measured change: until the last contact had it (changes that timed out count as the timeout) */
  allReachedMs: number[];
  /** per measured change: until the first contact had it */
  firstReachedMs: number[];
  /** per measured change: the median over contacts */
  medianContactMs: number[];
  /** server CPU time (user + system) over the measured changes, divided by their number */
  serverCpuMsPerChange: number;
  serverRssBytes: number;
  loginSeconds: number;
}

const LOGIN_CONCURRENCY = 16;
const PAUSE_BETWEEN_CHANGES_MS = 200;
/** the status text carried by change k */
const marker = (change: number) => `fanout-${change}<`;
const MARKER_PATTERN = /fanout-(\d+)</g;

/** The owner's disco#info, about what a current desktop client announces. */
const OWNER_INFO: CapsInput = {
  identities: [{ category: 'client', type: 'pc', name: 'presence benchmark' }],
  features: [
    'http://jabber.org/protocol/caps',
    'http://jabber.org/protocol/chatstates',
    'http://jabber.org/protocol/disco#info',
    'http://jabber.org/protocol/muc',
    'http://jabber.org/protocol/nick+notify',
    'jabber:iq:version',
    'urn:xmpp:avatar:metadata+notify',
    'urn:xmpp:bookmarks:1+notify',
    'urn:xmpp:carbons:2',
    'urn:xmpp:mam:2',
    'urn:xmpp:ping',
    'urn:xmpp:receipts',
  ],
};
const OWNER_NODE = 'https://trellis.example/bench';
const OWNER_VER = capsHash(OWNER_INFO);
const CAPS = `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${OWNER_NODE}' ver='${OWNER_VER}'/>`;
const DISCO_QUERY = /<iq\b([^>]*)>\s*<query\s+xmlns=(['"])http:\/\/jabber\.org\/protocol\/disco#info\2/g;

/** The owner's answers to the disco#info queries in `text` (RFC 6120 section 8.2.3: every IQ get is answered). */
function discoAnswers(text: string): string[] {
  const answers: string[] = [];
  for (const match of text.matchAll(DISCO_QUERY)) {
    const attributes = match[1]!;
    if (/\btype=(['"])get\1/.test(attributes) === false) continue;
    const id = /\bid=(['"])([^'"]*)\1/.exec(attributes)?.[2] ?? '';
    const from = /\bfrom=(['"])([^'"]*)\1/.exec(attributes)?.[2];
    const identity = OWNER_INFO.identities[0]!;
    const features = OWNER_INFO.features.map((feature) => `<feature var='${feature}'/>`).join('');
    answers.push(
      `<iq type='result' id='${id}'${from === undefined ? '' : ` to='${from}'`}><query xmlns='http://jabber.org/protocol/disco#info' node='${OWNER_NODE}#${OWNER_VER}'>` +
        `<identity category='${identity.category}' type='${identity.type}' name='${identity.name}'/>${features}</query></iq>`,
    );
  }
  return answers;
}

export async function presenceFanOutRun(server: ServerUnderTest, options: FanOutOptions): Promise<FanOutRun> {
  const total = options.changes + 1;
  // arrivals[change][contact]: performance.now() when it arrived, 0 until then
  const arrivals = Array.from({ length: total }, () => new Float64Array(options.contacts.length));
  const reached = new Int32Array(total);
  let wake: (() => void) | undefined;
  const clients: BenchClient[] = [];
  const loginStart = performance.now();
  try {
    const login = (username: string) =>
      BenchClient.login({ address: options.address, port: options.port, domain: options.domain, username, password: options.password, resource: 'bench', mechanism: 'SCRAM-SHA-1', timeoutMs: 30_000 });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < options.contacts.length) {
        const index = next++;
        const client = await login(options.contacts[index]!);
        clients.push(client);
        let tail = '';
        client.takeIncoming((text) => {
          const now = performance.now();
          const scanned = tail + text;
          for (const match of scanned.matchAll(MARKER_PATTERN)) {
            const change = Number(match[1]);
            if (change < total && arrivals[change]![index] === 0) {
              arrivals[change]![index] = now;
              if (++reached[change]! === options.contacts.length) wake?.();
            }
          }
          // A marker split over two reads is found in the next one; one seen twice counts once.
          tail = scanned.slice(-16);
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOGIN_CONCURRENCY, options.contacts.length) }, worker));
    const owner = await login(options.owner);
    clients.push(owner);
    // A query cut by a read boundary is not answered: the server then goes on without the features.
    owner.takeIncoming(options.caps ? (text) => discoAnswers(text).forEach((answer) => owner.queue(answer)) : () => {});
    const loginSeconds = (performance.now() - loginStart) / 1000;

    const allReachedMs: number[] = [];
    const firstReachedMs: number[] = [];
    const medianContactMs: number[] = [];
    let cpuStart = readProcSnapshot(server.pid).cpuSeconds;
    for (let change = 0; change < total; change++) {
      // Change 0 is the warm-up: the server's first broadcast after the owner's initial presence.
      if (change === 1) cpuStart = readProcSnapshot(server.pid).cpuSeconds;
      const sentAt = performance.now();
      owner.queue(`<presence><status>${marker(change)}/status>${options.caps ? CAPS : ''}</presence>`);
      const deadline = sentAt + options.changeTimeoutMs;
      while (reached[change]! < options.contacts.length && performance.now() < deadline) {
        const broken = clients.find((client) => client.closedBecause);
        if (broken) throw new Error(`${broken.fullJid}: ${broken.closedBecause!.message}`);
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(50)]);
      }
      wake = undefined;
      if (change === 0) continue;
      const times = [...arrivals[change]!].filter((at) => at > 0).map((at) => at - sentAt).sort((a, b) => a - b);
      allReachedMs.push(reached[change] === options.contacts.length ? times.at(-1)! : options.changeTimeoutMs);
      firstReachedMs.push(times[0] ?? NaN);
      medianContactMs.push(times[Math.floor(times.length / 2)] ?? NaN);
      await sleep(PAUSE_BETWEEN_CHANGES_MS);
    }
    const end = readProcSnapshot(server.pid);
    return {
      server: server.name,
      contacts: options.contacts.length,
      changes: options.changes,
      completeChanges: [...reached].slice(1).filter((count) => count === options.contacts.length).length,
      allReachedMs,
      firstReachedMs,
      medianContactMs,
      serverCpuMsPerChange: ((end.cpuSeconds - cpuStart) * 1000) / options.changes,
      serverRssBytes: end.rssBytes,
      loginSeconds,
    };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
