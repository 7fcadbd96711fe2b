/**
 * One stream that delivers hundreds of stanzas in one chunk must not keep every other stream
 * waiting while they are routed: each stream runs a share of them per turn of the event loop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import type { Element } from '../xml/element.ts';
import { XmlStream } from './xml-stream.ts';
import type { ReadRate } from './read-throttle.ts';

const LIMITS = { max_stanza_bytes: 65_536, max_depth: 16, max_attributes: 32, max_attribute_bytes: 4096, max_text_bytes: 65_536 };
const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

interface Received {
  ids: string[];
  /** how many stanzas all streams had run when each of this stream's arrived */
  seenAt: number[];
  /** turns of the event loop in which this stream's stanzas ran */
  turns: number;
  /** how many of this stream's stanzas had run when its parse error was reported */
  errorAfter?: number;
}

/** Accepts `count` connections, each read by an XmlStream; returns the clients' sockets. */
async function streams(count: number, readRate?: ReadRate): Promise<{ clients: Socket[]; received: Received[]; total: () => number; close: () => Promise<void> }> {
  const received: Received[] = [];
  const serverStreams: XmlStream[] = [];
  let total = 0;
  const server = createServer((socket) => {
    const mine: Received = { ids: [], seenAt: [], turns: 0 };
    let inTurn = false;
    received.push(mine);
    const noop = (): void => {};
    serverStreams.push(
      new XmlStream(
        socket,
        {
          streamOpen: noop,
          stanza: (element: Element) => {
            mine.ids.push(element.attrs.id ?? '');
            mine.seenAt.push(total++);
            if (!inTurn) {
              inTurn = true;
              mine.turns++;
              queueMicrotask(() => (inTurn = false));
            }
          },
          streamClose: noop,
          parseError: () => (mine.errorAfter = mine.ids.length),
          whitespace: noop,
          socketClosed: noop,
        },
        { limits: LIMITS, contentNamespace: 'jabber:client', readRate },
      ),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const clients: Socket[] = [];
  for (let index = 0; index < count; index++) {
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    clients.push(client);
  }
  while (received.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
  return {
    clients,
    received,
    total: () => total,
    async close() {
      for (const client of clients) client.destroy();
      for (const stream of serverStreams) stream.socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const messages = (from: number, to: number): string => {
  let xml = '';
  for (let id = from; id < to; id++) xml += `<message id='${id}' to='a@b'><body>x</body></message>`;
  return xml;
};

test('a stream that sent 2,000 stanzas at once lets another stream\'s stanza through before it is done, and loses or reorders none', async () => {
  const lab = await streams(2);
  try {
    const [flooder, other] = lab.clients as [Socket, Socket];
    flooder.write(HEADER);
    other.write(HEADER);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const flood = messages(0, 2000);
    // One write on each: the flood arrives in a few large chunks, the other stanza right behind it.
    flooder.write(flood);
    other.write("<message id='other' to='a@b'/>");
    await until(() => lab.total() === 2001, 'all 2,001 stanzas');
    const flooded = lab.received.find((stream) => stream.ids.length === 2000)!;
    const single = lab.received.find((stream) => stream.ids.length === 1)!;
    assert.deepEqual(flooded.ids, Array.from({ length: 2000 }, (_, id) => String(id)), 'every stanza, in order');
    assert.ok(single.seenAt[0]! < 1000, `the other stream's stanza ran after ${single.seenAt[0]} of the flood's, not behind all of them`);
  } finally {
    await lab.close();
  }
});

test('the share per turn and the stanza rate together: a held stream keeps its order and its rate', async () => {
  const lab = await streams(1, { bytesPerSecond: 10_000_000, burstBytes: 10_000_000, stanzasPerSecond: 2000, burstStanzas: 120 });
  try {
    const [client] = lab.clients as [Socket];
    client.write(HEADER + messages(0, 520));
    const started = Date.now();
    await until(() => lab.total() === 520, 'all 520 stanzas');
    const elapsed = Date.now() - started;
    assert.deepEqual(lab.received[0]!.ids, Array.from({ length: 520 }, (_, id) => String(id)));
    assert.ok(elapsed >= 150, `400 stanzas beyond the burst of 120 at 2000/s take at least 0.2 s, took ${elapsed} ms`);
  } finally {
    await lab.close();
  }
});

test('a stream held at its stanza rate runs what the rate allows in batches, not one stanza per timer', async () => {
  const lab = await streams(1, { bytesPerSecond: 10_000_000, burstBytes: 10_000_000, stanzasPerSecond: 1000, burstStanzas: 50 });
  try {
    const [client] = lab.clients as [Socket];
    client.write(HEADER + messages(0, 300));
    await until(() => lab.total() === 300, 'all 300 stanzas');
    const { ids, turns } = lab.received[0]!;
    assert.deepEqual(ids, Array.from({ length: 300 }, (_, id) => String(id)));
    // Beyond the burst of 50, 250 stanzas at 1000/s take 0.25 s: in turns at least 10 ms apart
    // that is about 25 of them, where a timer per stanza makes it 250.
    assert.ok(turns <= 60, `300 stanzas at 1000/s ran in ${turns} turns`);
  } finally {
    await lab.close();
  }
});

test('a stream held to its share of a turn parses no further ahead: a malformed tail is found after every stanza before it ran', async () => {
  const lab = await streams(1);
  try {
    const [client] = lab.clients as [Socket];
    // About 90 KB at once: most of it waits while the first stanzas run, as bytes, not as parsed stanzas.
    client.write(HEADER + messages(0, 2000) + "<message id='bad'></presence>");
    await until(() => lab.received[0]!.errorAfter !== undefined, 'the parse error');
    assert.equal(lab.received[0]!.errorAfter, 2000, 'the error was reported once all 2,000 stanzas before it had run, not while they waited');
    assert.deepEqual(lab.received[0]!.ids, Array.from({ length: 2000 }, (_, id) => String(id)));
  } finally {
    await lab.close();
  }
});
