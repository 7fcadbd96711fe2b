/**
 * Store and forward on a link (docs/links.md): messages for a link that is down, or that is
 * still sending what waited, are kept in storage in order, bounded by count and bytes, and
 * written when the link is up, oldest first. A message that finds the queue full, or waits
 * longer than the link's expiry, goes back to its sender as remote-server-timeout saying which.
 */
import type { LinkConfig } from '../config/types.ts';
import type { Logger } from '../util/log.ts';
import { NS_CLIENT, type Element } from '../xml/element.ts';
import { parseElement, STORED_LIMITS } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { LinkContext } from './link.ts';
import type { LinkStream } from './link-stream.ts';

/** Messages read from storage at a time while sending what waited. */
const BATCH = 64;

export interface LinkQueueCounters {
  queued: number;
  /** written to the link after waiting */
  forwarded: number;
  full: number;
  expired: number;
}

/** Where waiting messages go once the link is up: its connection, and how one stanza is written there. */
interface Target {
  stream: LinkStream;
  write: (stanza: Element) => boolean;
}

export class LinkQueue {
  readonly counters: LinkQueueCounters = { queued: 0, forwarded: 0, full: 0, expired: 0 };
  /** messages in storage now: counted there at the start, then followed */
  depth = 0;
  readonly #config: LinkConfig;
  readonly #context: LinkContext;
  readonly #logger: Logger;
  /** pushes to storage not yet settled */
  readonly #pushes = new Set<Promise<void>>();
  #lastPush: Promise<void> = Promise.resolve();
  /** settled once the depth was counted in storage: expiry and sending wait for it */
  #counted: Promise<void> = Promise.resolve();
  #target: Target | undefined;
  #flushing = false;
  #sweeping = false;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(config: LinkConfig, context: LinkContext, logger: Logger) {
    this.#config = config;
    this.#context = context;
    this.#logger = logger;
  }

  /** Checks for expired messages now and every few seconds (those left from before a restart among them). */
  start(): void {
    // After the pushes already made, before any other: the depth counted includes exactly those.
    this.#counted = this.#lastPush.then(async () => {
      try {
        this.depth = await this.#context.storage.linkQueues.count(this.#config.name);
      } catch (error) {
        this.#logger.error('link queue count failed', { error: (error as Error).message });
      }
    });
    this.#lastPush = this.#counted;
    void this.#sweep();
    this.#sweeper = setInterval(() => void this.#sweep(), Math.min(5, this.#config.expiry) * 1000);
    this.#sweeper.unref();
  }

  /** Stops sending and expiring; resolves once the messages being stored are in storage. */
  async stop(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#target = undefined;
    await Promise.allSettled([...this.#pushes]);
  }

  /** Messages are waiting or being sent: a new one joins them, so that order holds. */
  get busy(): boolean {
    return this.#flushing || this.#pushes.size > 0;
  }

  /** Keeps a message until the link can take it; `refusal` says why it never could (then it bounces at once). */
  add(stanza: Element, refusal: (stanza: Element) => StanzaError | undefined): void {
    const never = refusal(stanza);
    if (never !== undefined) return this.#context.router.bounce(stanza, never);
    // One push at a time, in the order sent: concurrent transactions could commit out of order.
    const push = this.#lastPush.then(() => this.#push(stanza)).finally(() => {
      this.#pushes.delete(push);
      if (this.#target?.stream.open && !this.#flushing) void this.#flush();
    });
    this.#pushes.add(push);
    this.#lastPush = push;
  }

  async #push(stanza: Element): Promise<void> {
    const { name, queue_max_messages: maxMessages, queue_max_bytes: maxBytes } = this.#config;
    let outcome: 'stored' | 'full' | 'failed';
    try {
      outcome = await this.#context.storage.linkQueues.push(name, serialize(stanza, NS_CLIENT), Date.now(), { maxMessages, maxBytes });
    } catch (error) {
      this.#logger.error('link queue write failed', { error: (error as Error).message });
      outcome = 'failed';
    }
    if (outcome === 'stored') {
      this.counters.queued++;
      this.depth++;
      return;
    }
    this.counters.full++;
    this.#logger.warn('link queue full: message bounced', { from: stanza.attrs.from, to: stanza.attrs.to });
    const text =
      outcome === 'full'
        ? `the link ${name} is down and its queue is full (${maxMessages} messages or ${maxBytes} bytes): the message was not kept`
        : `the link ${name} is down and the message could not be kept`;
    this.#context.router.bounce(stanza, new StanzaError('remote-server-timeout', text));
  }

  /** The link is up on `stream`: what waits is written in order, then new messages go straight out. */
  async flush(stream: LinkStream, write: (stanza: Element) => boolean): Promise<void> {
    this.#target = { stream, write };
    await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      await this.#counted;
      for (;;) {
        const target = this.#target;
        if (!target?.stream.open) return;
        const batch = await this.#context.storage.linkQueues.peek(this.#config.name, BATCH);
        if (batch.length === 0) {
          // A message being stored now was queued behind these: wait for it before new ones go straight out.
          if (this.#pushes.size === 0) return;
          await Promise.allSettled([...this.#pushes]);
          continue;
        }
        const written: number[] = [];
        for (const item of batch) {
          if (!target.write(parseElement(item.stanza, STORED_LIMITS, NS_CLIENT))) break;
          written.push(item.id);
          if (target.stream.backlogged) await new Promise((resolve) => target.stream.socket.once('drain', resolve).once('close', resolve));
        }
        const removed = await this.#context.storage.linkQueues.remove(this.#config.name, written);
        this.depth -= removed;
        this.counters.forwarded += written.length;
        if (written.length < batch.length) return;
      }
    } catch (error) {
      this.#logger.error('link queue read failed', { error: (error as Error).message });
    } finally {
      this.#flushing = false;
    }
  }

  /** Messages older than the link's expiry go back to their senders. */
  async #sweep(): Promise<void> {
    // While the queue is being sent, what it reads must not also be bounced.
    if (this.#sweeping || this.#flushing) return;
    this.#sweeping = true;
    try {
      await this.#counted;
      const expired = await this.#context.storage.linkQueues.takeExpired(this.#config.name, Date.now() - this.#config.expiry * 1000);
      this.depth -= expired.length;
      for (const item of expired) {
        this.counters.expired++;
        const stanza = parseElement(item.stanza, STORED_LIMITS, NS_CLIENT);
        this.#logger.warn('link queue: message expired', { from: stanza.attrs.from, to: stanza.attrs.to });
        this.#context.router.bounce(stanza, new StanzaError('remote-server-timeout', `the message waited longer than the expiry of the link ${this.#config.name} (${this.#config.expiry} s) and was not delivered`));
      }
    } catch (error) {
      this.#logger.error('link queue expiry check failed', { error: (error as Error).message });
    } finally {
      this.#sweeping = false;
    }
  }
}
