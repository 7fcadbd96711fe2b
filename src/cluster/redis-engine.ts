/**
 * The cluster engine on Redis (engine.ts; docs/cluster.md): registrations are keys that expire
 * with the lease, the session registry is a hash per node, and each node's inbox is a Redis
 * Stream read through a consumer group, so an entry stays until the node acknowledges it and a
 * reader that restarts reads again what it had not acknowledged. Every step that must not be
 * seen half done is one Lua script (redis-scripts.ts).
 */
import { Redis } from 'ioredis';
import type { Logger } from '../util/log.ts';
import type { ClusterEngine, ClusterMember, HandOverOutcome, InboxEntry, NodeIdentity, NodeStatus, ReceivedEntry, RenewOutcome, SendOutcome, SessionRecord, TakenOver } from './engine.ts';
import * as scripts from './redis-scripts.ts';

/** How long a dead incarnation's tombstone is kept: longer than any node stays stopped and then wakes. */
const TOMBSTONE_MS = 24 * 3600 * 1000;

type ScriptRunner = (...args: (string | number)[]) => Promise<unknown>;

export interface RedisEngineOptions {
  url: string;
  keyPrefix: string;
  logger: Logger;
}

export class RedisEngine implements ClusterEngine {
  readonly #prefix: string;
  /** commands and scripts, in order: what this node appends to one inbox arrives in that order */
  readonly #redis: Redis;
  /** blocking reads of this node's inbox, apart so that they hold up nothing else */
  readonly #reader: Redis;
  /** whether the reader has read back what it had not acknowledged since it (re)connected */
  #pendingRead = false;
  /** the last entry read back so far: entries held unacknowledged (inbox-reader.ts) are read back once, not again and again */
  #pendingFrom = '0';
  readonly #logger: Logger;

  constructor(options: RedisEngineOptions) {
    this.#prefix = options.keyPrefix;
    this.#logger = options.logger;
    const connection = {
      // A command waits through at most two reconnection attempts, then fails: the caller
      // treats a stanza it could not hand on as undeliverable there, and a renewal as missed.
      maxRetriesPerRequest: 2,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 1000),
      lazyConnect: true,
    };
    // Commands issued in one turn of the event loop leave in one write, in the order issued (ioredis's
    // auto-pipelining): a node forwarding many stanzas at once otherwise pays a socket write for each.
    this.#redis = new Redis(options.url, { ...connection, enableAutoPipelining: true });
    this.#reader = new Redis(options.url, { ...connection, maxRetriesPerRequest: 1 });
    for (const [client, role] of [[this.#redis, 'commands'], [this.#reader, 'inbox reader']] as const) {
      let down = false;
      client.on('error', (error: Error) => {
        if (!down) this.#logger.warn('cluster engine connection failed', { role, error: error.message });
        down = true;
      });
      client.on('ready', () => {
        if (down) this.#logger.info('cluster engine connection restored', { role });
        down = false;
      });
    }
    this.#reader.on('ready', () => {
      this.#pendingRead = false;
      this.#pendingFrom = '0';
    });
    for (const [name, lua] of Object.entries(scripts)) this.#redis.defineCommand(`trellis_${name.toLowerCase()}`, { numberOfKeys: 0, lua });
  }

  /** Connects both clients; rejects when Redis cannot be reached. */
  async connect(): Promise<void> {
    await Promise.all([this.#redis.connect(), this.#reader.connect()]);
  }

  #run(script: keyof typeof scripts, ...args: (string | number)[]): Promise<unknown> {
    const runner = (this.#redis as unknown as Record<string, ScriptRunner>)[`trellis_${script.toLowerCase()}`]!;
    return runner.call(this.#redis, this.#prefix, ...args);
  }

  async join(self: NodeIdentity, leaseMs: number): Promise<boolean> {
    return (await this.#run('JOIN', self.name, self.incarnation, leaseMs, Date.now())) === 1;
  }

  async renew(self: NodeIdentity, leaseMs: number, status?: NodeStatus): Promise<RenewOutcome> {
    const published = status === undefined ? [] : [JSON.stringify(status)];
    return (await this.#run('RENEW', self.name, self.incarnation, leaseMs, Date.now(), ...published)) as RenewOutcome;
  }

  async leave(self: NodeIdentity): Promise<void> {
    await this.#run('LEAVE', self.name, self.incarnation);
  }

  async lapsed(): Promise<NodeIdentity[]> {
    return pairs((await this.#run('LAPSED')) as string[]);
  }

  async members(): Promise<ClusterMember[]> {
    const flat = (await this.#run('MEMBERS')) as (string | number)[];
    const members: ClusterMember[] = [];
    for (let i = 0; i + 4 < flat.length; i += 5) {
      const status = String(flat[i + 4]);
      members.push({ name: String(flat[i]), incarnation: String(flat[i + 1]), live: flat[i + 2] === 1, joinedAt: Number(flat[i + 3]), status: status === '' ? undefined : (JSON.parse(status) as NodeStatus) });
    }
    return members.sort((a, b) => a.name.localeCompare(b.name) || a.joinedAt - b.joinedAt);
  }

  async acquireLease(name: string, holder: string, ms: number): Promise<boolean> {
    return (await this.#run('ACQUIRE_LEASE', name, holder, ms)) === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#run('RELEASE_LEASE', name, holder);
  }

  async claimLease(name: string, holder: string, ms: number): Promise<string> {
    return (await this.#run('CLAIM_LEASE', name, holder, ms)) as string;
  }

  async renewLeases(names: readonly string[], holder: string, ms: number): Promise<string[]> {
    if (names.length === 0) return [];
    return (await this.#run('RENEW_LEASES', holder, ms, ...names)) as string[];
  }

  async putSession(self: NodeIdentity, record: SessionRecord): Promise<void> {
    const entry: InboxEntry = { kind: 'session', record };
    await this.#run('PUT_SESSION', self.name, self.incarnation, record.jid, JSON.stringify(record), JSON.stringify(entry));
  }

  async removeSession(self: NodeIdentity, jid: string): Promise<void> {
    const entry: InboxEntry = { kind: 'session-gone', jid };
    await this.#run('PUT_SESSION', self.name, self.incarnation, jid, '', JSON.stringify(entry));
  }

  async handOver(self: NodeIdentity, to: NodeIdentity, record: SessionRecord, entry: InboxEntry): Promise<HandOverOutcome> {
    const published: InboxEntry = { kind: 'session', record };
    return (await this.#run('HAND_OVER', self.name, self.incarnation, to.name, to.incarnation, record.jid, JSON.stringify(record), JSON.stringify(published), JSON.stringify(entry))) as HandOverOutcome;
  }

  async sessions(): Promise<SessionRecord[]> {
    return ((await this.#run('SESSIONS')) as string[]).map((json) => JSON.parse(json) as SessionRecord);
  }

  async send(self: NodeIdentity, to: NodeIdentity, entry: InboxEntry, maxEntries: number): Promise<SendOutcome> {
    return (await this.#run('SEND', self.name, self.incarnation, to.name, to.incarnation, JSON.stringify(entry), maxEntries)) as SendOutcome;
  }

  async read(self: NodeIdentity, count: number, blockMs: number): Promise<ReceivedEntry[]> {
    const inbox = `${this.#prefix}:inbox:${self.name}:${self.incarnation}`;
    try {
      // Entries delivered to this consumer before and not acknowledged come first (from id 0), then new ones.
      if (!this.#pendingRead) {
        const pending = streamEntries((await this.#reader.xreadgroup('GROUP', 'readers', self.name, 'COUNT', count, 'STREAMS', inbox, this.#pendingFrom)) as StreamReply | null);
        if (pending.length > 0) {
          this.#pendingFrom = pending.at(-1)!.id;
          return pending;
        }
        this.#pendingRead = true;
      }
      return streamEntries((await this.#reader.xreadgroup('GROUP', 'readers', self.name, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', inbox, '>')) as StreamReply | null);
    } catch (error) {
      // A Redis that restarted without its data lost the group with the stream: made again, empty.
      if (error instanceof Error && error.message.startsWith('NOGROUP')) {
        await this.#run('ENSURE_GROUP', self.name, self.incarnation);
        return [];
      }
      throw error;
    }
  }

  async acknowledge(self: NodeIdentity, ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.#run('ACKNOWLEDGE', self.name, self.incarnation, ...ids);
  }

  async takeOver(self: NodeIdentity, dead: NodeIdentity): Promise<TakenOver | undefined> {
    const entry: InboxEntry = { kind: 'node-gone', node: dead.name, incarnation: dead.incarnation };
    const reply = (await this.#run('TAKE_OVER', self.name, self.incarnation, dead.name, dead.incarnation, TOMBSTONE_MS, JSON.stringify(entry))) as [string[], RawEntry[]] | null;
    if (!reply) return undefined;
    const [sessions, entries] = reply;
    return { sessions: sessions.map((json) => JSON.parse(json) as SessionRecord), undelivered: entries.map(parseEntry) };
  }

  async close(): Promise<void> {
    this.#reader.disconnect();
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}

/** [id, [field, value, ...]] as XRANGE and XREADGROUP give an entry */
type RawEntry = [string, string[]];
/** XREADGROUP's reply: [[stream, entries]] */
type StreamReply = [string, RawEntry[]][];

function streamEntries(reply: StreamReply | null): ReceivedEntry[] {
  return (reply ?? []).flatMap(([, entries]) => entries.map(parseEntry));
}

function parseEntry([id, fields]: RawEntry): ReceivedEntry {
  const field = (name: string): string => fields[fields.indexOf(name) + 1] ?? '';
  const from = field('from');
  const at = from.indexOf(':');
  return { id, from: { name: from.slice(0, at), incarnation: from.slice(at + 1) }, entry: JSON.parse(field('entry')) as InboxEntry };
}

function pairs(flat: readonly string[]): NodeIdentity[] {
  const identities: NodeIdentity[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) identities.push({ name: flat[i]!, incarnation: flat[i + 1]! });
  return identities;
}
