/**
 * The stanzas a session holds for its client until the client has them: in sending order,
 * each with its serialized form (kept for resending on resumption, XEP-0198 section 5), where
 * it ended on the current stream, and its stream-management sequence number.
 */
import type { Element } from '../xml/element.ts';

export interface OutboundEntry {
  readonly element: Element;
  readonly xml: string;
  /** offset at its end on the stream it was last written to; 0 while not written */
  end: number;
  /** XEP-0198 sequence number of the stanza (1 for the first after <enable/>); 0 when sent before stream management was enabled */
  seq: number;
  /** when it was queued, as an arrival position (router/arrival.ts) */
  readonly queuedAt: number;
  /** told whether the client got it (true) or the session ended first (false) */
  readonly settle: ((delivered: boolean) => void) | undefined;
}

/** A FIFO with a moving head: no array shifting on the hot path. */
export class OutboundQueue {
  #entries: OutboundEntry[] = [];
  #head = 0;
  /** characters of XML held */
  chars = 0;

  get size(): number {
    return this.#entries.length - this.#head;
  }

  push(entry: OutboundEntry): void {
    this.#entries.push(entry);
    this.chars += entry.xml.length;
  }

  peek(): OutboundEntry | undefined {
    return this.#entries[this.#head];
  }

  shift(): OutboundEntry | undefined {
    const entry = this.#entries[this.#head];
    if (entry === undefined) return undefined;
    this.#entries[this.#head] = undefined as unknown as OutboundEntry;
    this.#head++;
    this.chars -= entry.xml.length;
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  /** Removes and returns every entry. */
  drain(): OutboundEntry[] {
    const entries = this.#entries.slice(this.#head);
    this.#entries = [];
    this.#head = 0;
    this.chars = 0;
    return entries;
  }

  *[Symbol.iterator](): IterableIterator<OutboundEntry> {
    for (let index = this.#head; index < this.#entries.length; index++) yield this.#entries[index]!;
  }
}
