/**
 * The in-process cost of a group-chat broadcast, without sockets: a room of N occupants, each a
 * real client session (src/c2s/client-session.ts) over a transport that only counts what it is
 * given, and one occupant sending groupchat messages. What is timed is everything Trellis does
 * for one message from the router to the transports: the room, the service's outbox, routing
 * (or the local fan-out), the recipients' hosts, the sessions and serialisation. The socket
 * writes that `npm run bench -- muc` also measures are left out, so this shows the part the
 * code decides.
 *
 *   npm run bench -- muc-route [--occupants 1000] [--messages 200]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { ClientSession, type SessionTransport } from '../src/c2s/client-session.ts';
import { parseConfig } from '../src/config/load.ts';
import { parseJid } from '../src/jid/jid.ts';
import { OutputBudget } from '../src/net/output-budget.ts';
import { Router } from '../src/router/router.ts';
import { LivePolicy, PolicySnapshot } from '../src/policy/snapshot.ts';
import { SessionRegistry } from '../src/router/sessions.ts';
import { buildHost } from '../src/server-hosts.ts';
import { mucServiceOf } from '../src/muc/module.ts';
import { syncServiceHosts } from '../src/services/service-hosts.ts';
import { openSqliteStorage } from '../src/storage/sqlite.ts';
import { TlsContextStore } from '../src/net/tls-contexts.ts';
import { silentLogger } from '../src/util/log.ts';
import { parseElement } from '../src/xml/parse-element.ts';

const { values } = parseArgs({ options: { occupants: { type: 'string', default: '1000' }, messages: { type: 'string', default: '200' } } });
const occupants = Number(values.occupants);
const messages = Number(values.messages);
if (!Number.isInteger(occupants) || occupants < 2 || !Number.isInteger(messages) || messages < 1) {
  process.stderr.write('muc-route: --occupants is a count of at least 2, --messages at least 1\n');
  process.exit(2);
}

const config = parseConfig(`data_dir: /nonexistent\nmuc: { max_occupants: ${occupants + 10} }\nhosts:\n  bench.local: {}\n`, { baseDir: '/' });
const storage = await openSqliteStorage(':memory:');
const logger = silentLogger();
const router = new Router(new SessionRegistry(), logger, new LivePolicy(new PolicySnapshot(config)));
for (const hostConfig of config.hosts) router.addHost(buildHost(hostConfig, { router, storage, config, logger }));
await syncServiceHosts('bench.local', config.hosts[0]!, { router, storage, config, tls: new TlsContextStore(config.tls_settings), logger, loadCertificate: async () => {} });
const service = mucServiceOf(router.hosts.get('conference.bench.local'))!;

let chars = 0;
let writes = 0;
const budget = new OutputBudget(1 << 30, 1 << 30);
const sessions: ClientSession[] = [];
for (let index = 0; index < occupants; index++) {
  const transport: SessionTransport = {
    peer: 'bench',
    writtenOffset: 0,
    write(xml) {
      writes++;
      chars += xml.length;
      // As a socket that takes everything at once.
      queueMicrotask(() => session.written(chars));
      return chars;
    },
    end() {},
    drop() {},
  };
  const session: ClientSession = new ClientSession(parseJid(`u${index + 1}@bench.local/bench`), transport, {
    router, budget, logger, ackRequestThreshold: 5, maxHeldWhileInactive: config.c2s.csi.max_held, spill: async () => {}, undelivered: async () => {}, started: () => {}, ended: () => {},
  });
  router.sessions.add(session);
  sessions.push(session);
}
const stanza = (xml: string) => parseElement(xml.replace(/^<(\w+)/, "<$1 xmlns='jabber:client'"));
const send = async (index: number, xml: string) => {
  await router.route(stanza(xml), { kind: 'client', session: sessions[index]! });
  await service.settled();
};

const enterStart = performance.now();
await send(0, `<presence to='fanout@conference.bench.local/u1'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
await send(0, `<iq type='set' id='c' to='fanout@conference.bench.local'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
for (let index = 1; index < occupants; index++) {
  await send(index, `<presence to='fanout@conference.bench.local/u${index + 1}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
}
const enterMs = performance.now() - enterStart;
const room = service.rooms.get('fanout')!;
if (room.occupants.size !== occupants) throw new Error(`${room.occupants.size} occupants entered, not ${occupants}`);

const times: number[] = [];
let cpuStart = process.cpuUsage();
for (let message = 0; message < messages + 10; message++) {
  const before = writes;
  if (message === 10) cpuStart = process.cpuUsage();
  const started = performance.now();
  await send(0, `<message to='fanout@conference.bench.local' type='groupchat' id='m${message}'><body>mucfan-${message}</body></message>`);
  if (message >= 10) times.push(performance.now() - started);
  if (writes - before !== occupants) throw new Error(`message ${message} reached ${writes - before} sessions, not ${occupants}`);
}
const cpu = process.cpuUsage(cpuStart);
const cpuMs = (cpu.user + cpu.system) / 1000 / messages;
times.sort((a, b) => a - b);
const at = (fraction: number) => times[Math.min(times.length - 1, Math.ceil(fraction * times.length) - 1)]!;
process.stdout.write(
  `${occupants} occupants entered in ${(enterMs / 1000).toFixed(2)} s; one groupchat message to all of them: ` +
    `p50 ${at(0.5).toFixed(2)} ms, p90 ${at(0.9).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms, CPU ${cpuMs.toFixed(2)} ms (${messages} messages after 10 of warm-up; ${(chars / writes).toFixed(0)} characters per copy)\n`,
);
await storage.close();
