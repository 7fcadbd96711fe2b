/**
 * The per-node inbox of docs/cluster.md on two servers, for bench/cluster-inbox.ts: N writers
 * append entries to one node's inbox, in order, and that node's one reader reads them in batches
 * and acknowledges each batch once handled.
 *
 * - Redis Streams: the cluster's own engine (src/cluster/redis-engine.ts): each writer a
 *   RedisEngine of its own calling `send` (one Lua script: the target's registration, the inbox
 *   bound, XADD), the reader `read` (XREADGROUP, consumer group `readers`) and `acknowledge`
 *   (XACK and XDEL of the batch).
 * - NATS JetStream (npm `nats`): a stream per inbox (one subject, memory storage, at most
 *   `maxEntries` messages, new ones refused beyond: the inbox bound), each writer a connection of
 *   its own publishing and awaiting the stream's acknowledgement (the entry is stored), the reader
 *   a durable pull consumer (`consume`) acknowledging with AckPolicy.All on the last entry of each
 *   batch it handled.
 */
import { AckPolicy, connect, DiscardPolicy, StorageType, type ConsumerMessages } from 'nats';
import { createLogger } from '../../src/util/log.ts';
import { RedisEngine } from '../../src/cluster/redis-engine.ts';
import type { InboxEntry, NodeIdentity } from '../../src/cluster/engine.ts';

export interface InboxBackend {
  /** Appends one entry from writer `writer`; resolves once the server holds it. */
  append(writer: number, xml: string): Promise<void>;
  /** Reads until stopped, handing each batch (in order) to `handle` before acknowledging it. */
  startReading(handle: (xmls: string[]) => void): void;
  close(): Promise<void>;
}

const TARGET: NodeIdentity = { name: 'reader', incarnation: 'bench' };
const BATCH = 256;
const BLOCK_MS = 500;

export async function redisInbox(url: string, writers: number, maxEntries: number): Promise<InboxBackend> {
  const logger = createLogger({ level: 'warn', format: 'text', sink: process.stderr });
  const make = () => new RedisEngine({ url, keyPrefix: 'bench', logger });
  const reader = make();
  await reader.connect();
  if (!(await reader.join(TARGET, 3_600_000))) throw new Error('the reader could not join');
  const senders = await Promise.all(
    Array.from({ length: writers }, async (_, index) => {
      const engine = make();
      await engine.connect();
      return { engine, self: { name: `writer${index}`, incarnation: 'bench' } };
    }),
  );
  let reading = false;
  let loop: Promise<void> = Promise.resolve();
  return {
    async append(writer, xml) {
      const { engine, self } = senders[writer]!;
      const entry: InboxEntry = { kind: 'stanza', to: 'user@bench.local/r', xml };
      const outcome = await engine.send(self, TARGET, entry, maxEntries);
      if (outcome !== 'sent') throw new Error(`redis inbox: ${outcome}`);
    },
    startReading(handle) {
      reading = true;
      loop = (async () => {
        while (reading) {
          const entries = await reader.read(TARGET, BATCH, BLOCK_MS);
          handle(entries.map((received) => (received.entry as { xml: string }).xml));
          await reader.acknowledge(TARGET, entries.map((received) => received.id));
        }
      })();
    },
    async close() {
      reading = false;
      await loop;
      await Promise.all([reader, ...senders.map((sender) => sender.engine)].map((engine) => engine.close()));
    },
  };
}

export async function natsInbox(url: string, writers: number, maxEntries: number): Promise<InboxBackend> {
  const codec = new TextEncoder();
  const decoder = new TextDecoder();
  const readerConnection = await connect({ servers: url });
  const stream = `inbox-${TARGET.name}-${TARGET.incarnation}`;
  const subject = `inbox.${TARGET.name}.${TARGET.incarnation}`;
  const manager = await readerConnection.jetstreamManager();
  await manager.streams.add({ name: stream, subjects: [subject], storage: StorageType.Memory, max_msgs: maxEntries, discard: DiscardPolicy.New });
  await manager.consumers.add(stream, { durable_name: 'readers', ack_policy: AckPolicy.All, max_ack_pending: 100_000 });
  const connections = await Promise.all(Array.from({ length: writers }, () => connect({ servers: url })));
  const publishers = connections.map((connection) => connection.jetstream());
  let messages: ConsumerMessages | undefined;
  let loop: Promise<void> = Promise.resolve();
  return {
    async append(writer, xml) {
      const entry: InboxEntry = { kind: 'stanza', to: 'user@bench.local/r', xml };
      await publishers[writer]!.publish(subject, codec.encode(JSON.stringify({ from: `writer${writer}:bench`, entry })));
    },
    startReading(handle) {
      loop = (async () => {
        const consumer = await readerConnection.jetstream().consumers.get(stream, 'readers');
        messages = await consumer.consume({ max_messages: BATCH });
        let batch: string[] = [];
        for await (const message of messages) {
          const { entry } = JSON.parse(decoder.decode(message.data)) as { entry: { xml: string } };
          batch.push(entry.xml);
          // The end of what the server had for this consumer, or a full batch: handle, then acknowledge all up to here.
          if (message.info.pending === 0 || batch.length >= BATCH) {
            handle(batch);
            batch = [];
            message.ack();
          }
        }
      })();
    },
    async close() {
      messages?.stop();
      await loop;
      await Promise.all([readerConnection, ...connections].map((connection) => connection.drain()));
    },
  };
}
