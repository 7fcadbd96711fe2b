/**
 * Stanzas a group-chat service sends, routed one after another so every recipient sees them in
 * the order the rooms produced them. A broadcast (one stanza to many occupants) is kept as the
 * stanza and its recipients, serialized once and copied for each recipient as it is routed
 * (src/xml/stanza-copies.ts). Bounded: beyond `max` stanzas waiting, stanzas are dropped and
 * counted. Before that, the service holds back new input (`admit`) while more than `max / 10`
 * wait, so that a burst of entries into a large room (each one a presence to and from every
 * occupant) is paced by the routing instead of overflowing the queue.
 */
import { tryParseJid, type Jid } from '../jid/jid.ts';
import type { Router } from '../router/router.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { StanzaCopies } from '../xml/stanza-copies.ts';

/** One stanza addressed by its own `to`, or copies of one for each of `recipients`. */
type Entry = { stanza: Element; recipients?: undefined } | { copies: StanzaCopies; recipients: readonly string[] };

/** Stanzas routed between two chances for the sessions to write. */
const WRITE_EVERY = 64;

export class Outbox {
  #queue: Entry[] = [];
  #head = 0;
  /** stanzas in the queue (a broadcast counts once per recipient) */
  #waiting = 0;
  #running: Promise<void> | undefined;
  #router: Router;
  #logger: Logger;
  readonly max: number;
  readonly #highWater: number;
  /** input held back by `admit`, in arrival order */
  #admissions: (() => void)[] = [];
  dropped = 0;

  constructor(router: Router, logger: Logger, max: number) {
    this.#router = router;
    this.#logger = logger;
    this.max = max;
    this.#highWater = Math.max(1, Math.floor(max / 10));
  }

  /**
   * Resolves when the service may handle one more incoming stanza: at once while few stanzas
   * wait, else once the queue is below its high-water mark, in the order the stanzas came.
   */
  admit(): Promise<void> | undefined {
    if (this.#admissions.length === 0 && this.waiting < this.#highWater) return undefined;
    return new Promise((resolve) => this.#admissions.push(resolve));
  }

  /** Lets held input in, one stanza's worth at a time: each may queue many more. */
  #admitNext(): void {
    if (this.waiting < this.#highWater) this.#admissions.shift()?.();
  }

  get waiting(): number {
    return this.#waiting;
  }

  /** A stanza to its own `to`. */
  send(stanza: Element): void {
    this.#push({ stanza }, 1);
  }

  /** `stanza` as it is now (its `to` ignored) to each of `recipients`, in that order. */
  broadcast(stanza: Element, recipients: readonly string[]): void {
    if (recipients.length > 0) this.#push({ copies: new StanzaCopies(stanza), recipients }, recipients.length);
  }

  #push(entry: Entry, count: number): void {
    if (this.#waiting + count > this.max) {
      const before = this.dropped;
      this.dropped += count;
      if (Math.floor(before / 1000) !== Math.floor(this.dropped / 1000) || before === 0) this.#logger.warn('group-chat output queue full: stanzas dropped', { max: this.max, dropped: this.dropped });
      return;
    }
    this.#waiting += count;
    this.#queue.push(entry);
    this.#running ??= this.#drain();
  }

  /** Resolves once everything queued so far has been routed. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    // Never inside the room's own code: what it sends is routed once it has finished.
    await undefined;
    let routed = 0;
    try {
      while (this.#head < this.#queue.length) {
        const entry = this.#queue[this.#head++]!;
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        const count = entry.recipients?.length ?? 1;
        // The copies differ only in their `to`: their sender is read once.
        let from: Jid | undefined;
        for (let index = 0; index < count; index++) {
          const stanza = entry.recipients ? entry.copies.to(entry.recipients[index]!) : entry.stanza;
          from ??= tryParseJid(stanza.attrs.from ?? '');
          this.#waiting--;
          try {
            // Stanzas from a room leave as any server-generated stanza does: to a local session
            // (at once, when its host's features need not wait), or through the router to anywhere.
            if (from === undefined || !this.#router.deliverNow(stanza, from)) await this.#router.route(stanza, { kind: 'local' });
          } catch (error) {
            this.#logger.error('routing a group-chat stanza failed', { error: error instanceof Error ? error.message : String(error), to: stanza.attrs.to });
          }
          if (this.#admissions.length > 0) this.#admitNext();
          // Sessions write what they were given on the next tick, which a drain running on
          // microtasks alone would hold back until its end: let them write every so often, so a
          // broadcast to a thousand occupants reaches the first ones while the last are routed.
          if (++routed % WRITE_EVERY === 0) await new Promise<void>((resolve) => process.nextTick(resolve));
        }
      }
    } finally {
      this.#running = undefined;
      while (this.#admissions.length > 0 && this.waiting < this.#highWater) this.#admitNext();
    }
  }
}
