/**
 * Memory bounded by design, and nothing lost on the way: clients that do not read cannot make
 * the server hold more than its output budgets (what does not fit waits in offline storage and
 * arrives once they read), a flooding client is slowed to its read rate while others are
 * served, and a large offline backlog reaches a slow reader whole, in order, and survives a
 * disconnect mid-delivery.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { RawClient } from './support/raw-client.ts';
import { login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { storedForm, withDelay } from '../src/modules/offline/stored-stanza.ts';
import { Element, NS_CLIENT } from '../src/xml/element.ts';

const SM = "xmlns='urn:xmpp:sm:3'";
const OUTPUT_TOTAL = 1024 * 1024;
/** Non-reading sessions; each is sent 8 MB, more than its paused socket and the kernel's buffers take in (up to tcp_wmem's 4 MB). */
const VICTIMS = 3;
const MESSAGE_SIZE = 10_000;
const MESSAGES = 2400;

const CONFIG = `
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  max_sessions_per_account: 40
  rate: { bytes_per_second: 104857600, burst_bytes: 104857600, stanzas_per_second: 1000000, burst_stanzas: 1000000 }
  output: { session_buffer: 65536, total_buffer: ${OUTPUT_TOTAL} }
offline: { max_messages: 100000, max_bytes: 1073741824, max_per_sender: 100000 }
# these senders flood on purpose, with no roster between them: no stranger limit
strangers: { max_messages: 0 }
# every client here comes from 127.0.0.1
limits: { c2s_per_address: 1000 }
`;

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Counts what a client receives without keeping it: message ids in order, and top-level stanzas
 * (for stream management acknowledgements). Scans chunk by chunk, keeping only an unfinished tail.
 */
class ReceiveCounter {
  readonly ids: string[] = [];
  stanzas = 0;
  ackRequests = 0;
  #tail = '';

  constructor(socket: Socket) {
    socket.removeAllListeners('data');
    socket.on('data', (chunk: Buffer) => this.#scan(chunk.toString('utf8')));
  }

  #scan(text: string): void {
    const data = this.#tail + text;
    // Complete tokens only: everything up to the last '>' is scanned, the rest waits.
    const end = data.lastIndexOf('>') + 1;
    const scanned = data.slice(0, end);
    this.#tail = data.slice(end);
    for (const match of scanned.matchAll(/<(message|presence|iq|r)[\s>/]([^>]*)/g)) {
      if (match[1] === 'r') {
        if (match[2]!.includes('urn:xmpp:sm:3')) this.ackRequests++;
        continue;
      }
      this.stanzas++;
      const id = /\bid=["'](n\d+)["']/.exec(match[2]!)?.[1];
      if (match[1] === 'message' && id) this.ids.push(id);
    }
  }
}

function numberedMessage(to: string, n: number, size: number): string {
  return `<message to='${to}' type='chat' id='n${n}'><body>${String(n).padEnd(size, '.')}</body></message>`;
}

describe('memory bounds and paced delivery', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(CONFIG);
    for (const user of ['victim', 'flooder', 'bystander', 'reader', 'sender']) await server.addUser(user, 'localhost', 'secret');
  });
  after(async () => {
    await server.stop();
  });

  test('clients that do not read hold no more than the output budget; what did not fit reaches them once they read', async () => {
    const victims: { client: RawClient; jid: string }[] = [];
    for (let i = 0; i < VICTIMS; i++) {
      const victim = await login(server, { username: 'victim', password: 'secret', resource: `v${i}` });
      victim.client.send('<presence/>');
      victims.push(victim);
    }
    await until(() => [...server.server.c2s.sessions].filter((session) => session.jid.local === 'victim' && session.im.available).length === VICTIMS, 'victims available');
    for (const victim of victims) victim.client.socket.pause();

    const { client: flooder } = await login(server, { username: 'flooder', password: 'secret', resource: 'f' });
    const total = MESSAGES;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, server.server.c2s.budget.used)), 5);
    for (let n = 0; n < total; n++) flooder.send(numberedMessage(victims[n % victims.length]!.jid, n, MESSAGE_SIZE));
    flooder.send("<iq type='get' id='flood-done' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await flooder.waitFor(/id=["']flood-done["']/, 60_000);

    // Someone else is still served while the victims hold their budgets.
    const { client: bystander } = await login(server, { username: 'bystander', password: 'secret', resource: 'b' });
    const started = Date.now();
    bystander.send("<iq type='get' id='rtt' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await bystander.waitFor(/id=["']rtt["']/);
    const roundTrip = Date.now() - started;
    clearInterval(sampler);
    assert.ok(peak <= OUTPUT_TOTAL, `held ${peak} bytes at most, budget ${OUTPUT_TOTAL}`);
    assert.ok(server.server.c2s.budget.overflows > 0, 'the budget was reached');
    const stored = await server.server.storage.offline.count('localhost', 'victim');
    assert.ok(stored > 0, 'what did not fit waits in offline storage');
    assert.doesNotMatch(flooder.received, /type=["']error["']/, 'nothing bounced to the sender');

    // The victims read again: every message arrives exactly once, across their resources.
    const counters = victims.map((victim) => new ReceiveCounter(victim.client.socket));
    for (const victim of victims) victim.client.socket.resume();
    await until(() => counters.reduce((sum, counter) => sum + counter.ids.length, 0) >= total, 'all messages delivered', 60_000);
    const ids = counters.flatMap((counter) => counter.ids);
    assert.equal(new Set(ids).size, total, 'no message lost or delivered twice');
    assert.equal(ids.length, total);
    await until(async () => (await server.server.storage.offline.count('localhost', 'victim')) === 0, 'the mailbox emptied');
    console.log(`# ${total} messages to ${VICTIMS} non-reading sessions: peak held ${peak} bytes (budget ${OUTPUT_TOTAL}), ${stored} went through offline storage, bystander round trip ${roundTrip} ms`);
    for (const client of [...victims.map((victim) => victim.client), flooder, bystander]) client.close();
  });

  test('an idle client stream keeps no parser; it reads on, mid-stanza too, when its client speaks again', async () => {
    const { client: reader, jid: readerJid } = await login(server, { username: 'reader', password: 'secret', resource: 'idle' });
    const { client: sender } = await login(server, { username: 'sender', password: 'secret', resource: 'idle' });
    const streamOf = (jid: string) => [...server.server.c2s.connections].find((connection) => connection.session?.jid.toString() === jid)!.stream;
    // The listener's sweep parks the parser of a stream that read nothing for a second.
    await until(() => streamOf(readerJid).parserParked, 'the idle stream parked its parser', 10_000);
    const message = `<message to='${readerJid}' type='chat' id='after-idle'><body>still here</body></message>`;
    sender.send(message);
    await reader.waitFor(/id=["']after-idle["'][^]*still here/);
    // A stanza split across reads, with a pause long enough for a sweep in between, is read whole.
    reader.send("<iq type='get' id='split' to='localhost'><ping xmlns='urn:");
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(streamOf(readerJid).parserParked, false, 'a stream inside a stanza keeps its parser');
    reader.send("xmpp:ping'/></iq>");
    await reader.waitFor(/id=["']split["'][^]*type=["']result["']|type=["']result["'][^]*id=["']split["']/);
    assert.doesNotMatch(reader.received, /stream:error/);
    reader.close();
    sender.close();
  });

  test('1,000 offline messages of 20 KB reach a slow reader whole and in order', async () => {
    const total = 1000;
    for (let n = 0; n < total; n++) await storeOffline(server, 'reader', n, 20_000);
    const { client } = await login(server, { username: 'reader', password: 'secret', resource: 'slow' });
    const counter = new ReceiveCounter(client.socket);
    client.send('<presence/>');
    // Read in sips: 30 ms of reading every 100 ms.
    const sipper = setInterval(() => {
      client.socket.resume();
      setTimeout(() => client.socket.pause(), 30);
    }, 100);
    try {
      await until(() => counter.ids.length >= total, 'all offline messages', 120_000);
    } finally {
      clearInterval(sipper);
      client.socket.resume();
    }
    assert.deepEqual(counter.ids, Array.from({ length: total }, (_, n) => `n${n}`));
    await until(async () => (await server.server.storage.offline.count('localhost', 'reader')) === 0, 'the mailbox emptied');
    client.close();
  });

  test('a client with stream management that disconnects mid-delivery loses nothing: the rest waits for its next login', async () => {
    const total = 1000;
    for (let n = 0; n < total; n++) await storeOffline(server, 'reader', n, 20_000);
    const { client } = await login(server, { username: 'reader', password: 'secret', resource: 'drop' });
    client.send(`<enable ${SM}/>`);
    await client.waitFor(/<enabled /);
    const counter = new ReceiveCounter(client.socket);
    // Acknowledge what arrived whenever the server asks.
    let answered = 0;
    const acker = setInterval(() => {
      if (counter.ackRequests > answered) {
        answered = counter.ackRequests;
        client.send(`<a ${SM} h='${counter.stanzas}'/>`);
      }
    }, 5);
    client.send('<presence/>');
    await until(() => counter.ids.length >= 300, 'the first 300 messages');
    clearInterval(acker);
    client.socket.destroy();
    const firstIds = [...counter.ids];
    await until(() => ![...server.server.c2s.sessions].some((session) => session.jid.resource === 'drop'), 'the session ended');

    const { client: again } = await login(server, { username: 'reader', password: 'secret', resource: 'again' });
    const secondCounter = new ReceiveCounter(again.socket);
    again.send('<presence/>');
    await until(() => new Set([...firstIds, ...secondCounter.ids]).size >= total, 'the rest at the next login', 60_000);
    const all = new Set([...firstIds, ...secondCounter.ids]);
    assert.equal(all.size, total, 'every message arrived at least once');
    assert.deepEqual(secondCounter.ids, [...secondCounter.ids].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))), 'in order');
    console.log(`# disconnect after ${firstIds.length} of ${total}: ${secondCounter.ids.length} at the next login (${firstIds.length + secondCounter.ids.length - total} delivered twice: received but not yet acknowledged)`);
    await until(async () => (await server.server.storage.offline.count('localhost', 'reader')) === 0, 'the mailbox emptied');
    again.close();
  });
});

describe('read rate', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(`
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  rate: { bytes_per_second: 102400, burst_bytes: 16384, stanzas_per_second: 1000000, burst_stanzas: 1000000 }
# these senders flood on purpose, with no roster between them: no stranger limit
strangers: { max_messages: 0 }
`);
    for (const user of ['flooder', 'target', 'bystander']) await server.addUser(user, 'localhost', 'secret');
  });
  after(async () => {
    await server.stop();
  });

  test('a flooding client is slowed to its rate without losing anything, and others are served meanwhile', async () => {
    const { client: target, jid: targetJid } = await login(server, { username: 'target', password: 'secret', resource: 't' });
    const counter = new ReceiveCounter(target.socket);
    const { client: flooder } = await login(server, { username: 'flooder', password: 'secret', resource: 'f' });
    const { client: bystander } = await login(server, { username: 'bystander', password: 'secret', resource: 'b' });
    const count = 300;
    const started = Date.now();
    for (let n = 0; n < count; n++) flooder.send(numberedMessage(targetJid, n, 1000));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pingStarted = Date.now();
    bystander.send("<iq type='get' id='rtt' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await bystander.waitFor(/id=["']rtt["']/);
    const roundTrip = Date.now() - pingStarted;
    await until(() => counter.ids.length >= count, 'every flooded message');
    const seconds = (Date.now() - started) / 1000;
    const bytes = count * 1070;
    // About 320 KB at 100 KiB/s after a 16 KiB burst: close to three seconds at least.
    assert.ok(seconds >= 2.5, `${bytes} bytes took ${seconds} s`);
    assert.deepEqual(counter.ids, Array.from({ length: count }, (_, n) => `n${n}`));
    assert.ok(roundTrip < 1000, `bystander round trip ${roundTrip} ms during the flood`);
    console.log(`# flood of ${bytes} bytes took ${seconds.toFixed(1)} s (${Math.round(bytes / seconds / 1024)} KiB/s at a 100 KiB/s rate); bystander round trip ${roundTrip} ms`);
    for (const client of [target, flooder, bystander]) client.close();
  });
});

describe('stanza rate', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(`
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  rate: { stanzas_per_second: 100, burst_stanzas: 50 }
# the sender floods on purpose, with no roster between them: no stranger limit
strangers: { max_messages: 0 }
`);
    for (const user of ['chatty', 'listener']) await server.addUser(user, 'localhost', 'secret');
  });
  after(async () => {
    await server.stop();
  });

  test('a client sending many small stanzas is held to its stanza rate, losing none', async () => {
    const { client: listener, jid } = await login(server, { username: 'listener', password: 'secret', resource: 'l' });
    const counter = new ReceiveCounter(listener.socket);
    const { client: chatty } = await login(server, { username: 'chatty', password: 'secret', resource: 'c' });
    const count = 300;
    const started = Date.now();
    for (let n = 0; n < count; n++) chatty.send(numberedMessage(jid, n, 1));
    await until(() => counter.ids.length >= count, 'every message');
    const seconds = (Date.now() - started) / 1000;
    // 300 stanzas at 100 a second after a burst of 50: two and a half seconds at least.
    assert.ok(seconds >= 2, `${count} stanzas took ${seconds} s`);
    assert.deepEqual(counter.ids, Array.from({ length: count }, (_, n) => `n${n}`));
    console.log(`# ${count} small stanzas took ${seconds.toFixed(1)} s at 100 stanzas/s`);
    chatty.close();
    listener.close();
  });
});

/** Stores message `n` for `username` as the offline feature would. */
async function storeOffline(server: TestServer, username: string, n: number, size: number): Promise<void> {
  const message = new Element('message', NS_CLIENT, { from: 'sender@localhost/x', to: `${username}@localhost`, type: 'chat', id: `n${n}` });
  message.c('body').t(String(n).padEnd(size, '.'));
  const quota = { maxMessages: 1_000_000, maxBytes: 1 << 30, maxPerSender: 1_000_000 };
  const outcome = await server.server.storage.offline.push('localhost', username, storedForm(withDelay(message, 'localhost', new Date())), 'sender@localhost', quota);
  assert.equal(outcome, 'stored');
}
