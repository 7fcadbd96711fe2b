/**
 * What an outgoing server stream sent and the peer may not have yet. With stream management
 * (XEP-0198) a stanza is the peer's once it acknowledged it; without, once our socket took it
 * (beyond that TCP is all there is). When the connection drops, whatever is not the peer's is
 * handed back to be sent again on the next connection or bounced: never dropped.
 *
 * What waits for an acknowledgement is bounded: a peer that stops acknowledging while it reads
 * is treated as one without stream management, so only what the socket has not taken is held.
 */
import { NS_CLIENT, type Element } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import { ackRequest, acknowledgedCount } from '../net/stream-management.ts';
import type { Pair } from './binding-table.ts';

export interface TrackedStanza {
  readonly stanza: Element;
  /** its pair of domains (local sender, remote addressee) */
  readonly pair: Pair;
  /** how many connections it was sent on before this one */
  readonly resends: number;
}

interface Entry extends TrackedStanza {
  /** offset at its end on the stream; 0 when the stream was closing and took nothing */
  end: number;
  /** XEP-0198 sequence number; 0 when sent without stream management */
  seq: number;
}

/** What the tracker writes through. */
export interface TrackedStream {
  /** Queues serialized XML; returns the offset at its end. */
  write(xml: string): number;
  /** offset up to which the socket has taken what was written */
  readonly writtenOffset: number;
}

/** An acknowledgement is asked for after every so many stanzas, and after a short delay for the last few. */
const ACK_REQUEST_INTERVAL = 16;
const ACK_REQUEST_DELAY_MS = 500;
/** Stanzas sent and not acknowledged before acknowledgements are given up on this stream. */
export const MAX_UNACKNOWLEDGED = 10_000;

export class DeliveryTracker {
  #stream: TrackedStream;
  #entries: Entry[] = [];
  #acks: { sent: number; requested: boolean; timer: NodeJS.Timeout | undefined } | undefined;

  constructor(stream: TrackedStream) {
    this.#stream = stream;
  }

  /** Writes a stanza; false when acknowledgements were given up because too many are missing. */
  send(stanza: Element, pair: Pair, resends: number): boolean {
    if (this.#acks && this.#entries.length >= MAX_UNACKNOWLEDGED) {
      this.stopAcks();
      this.send(stanza, pair, resends);
      return false;
    }
    const acks = this.#acks;
    const entry: Entry = { stanza, pair, resends, end: 0, seq: acks ? ++acks.sent : 0 };
    entry.end = this.#stream.write(serialize(stanza, NS_CLIENT));
    this.#entries.push(entry);
    if (!acks) return true;
    // Every so many stanzas, whether or not an earlier request is answered: the peer answers each
    // in order, so a dropped connection leaves at most that many in doubt beyond what it processed.
    if (acks.sent % ACK_REQUEST_INTERVAL === 0) this.#requestAck();
    else if (!acks.requested) acks.timer ??= setTimeout(() => this.#requestAck(), ACK_REQUEST_DELAY_MS).unref();
    return true;
  }

  /** We sent <enable/> (XEP-0198 section 3): the peer counts what we send from now on. */
  startAcks(): void {
    this.#acks = { sent: 0, requested: false, timer: undefined };
  }

  /** The peer answered <failed/>: only our socket vouches for what we sent. */
  stopAcks(): void {
    if (this.#acks) clearTimeout(this.#acks.timer);
    this.#acks = undefined;
    for (const entry of this.#entries) entry.seq = 0;
    this.written(this.#stream.writtenOffset);
  }

  #requestAck(): void {
    const acks = this.#acks;
    if (!acks) return;
    clearTimeout(acks.timer);
    acks.timer = undefined;
    if (this.#entries.length === 0) return;
    acks.requested = true;
    this.#stream.write(ackRequest);
  }

  /** Section 4: the peer acknowledged `h` stanzas. Returns false when that is more than we sent. */
  acknowledge(h: number): boolean {
    const acks = this.#acks;
    if (!acks) return true;
    const acked = acknowledgedCount(h, acks.sent);
    if (acked === undefined) return false;
    acks.requested = false;
    const written = this.#stream.writtenOffset;
    let keep = 0;
    while (keep < this.#entries.length) {
      const entry = this.#entries[keep]!;
      if (entry.seq === 0 ? !isWritten(entry, written) : entry.seq > acked) break;
      keep++;
    }
    this.#entries = this.#entries.slice(keep);
    if (this.#entries.length > 0) acks.timer ??= setTimeout(() => this.#requestAck(), ACK_REQUEST_DELAY_MS).unref();
    return true;
  }

  /** The socket took everything up to `offset`: without acknowledgements that is as far as we can know. */
  written(offset: number): void {
    let done = 0;
    while (done < this.#entries.length && this.#entries[done]!.seq === 0 && isWritten(this.#entries[done]!, offset)) done++;
    if (done > 0) this.#entries = this.#entries.slice(done);
  }

  /** The connection is gone: what the peer may not have, in the order it was sent. */
  takeUnconfirmed(): TrackedStanza[] {
    if (this.#acks) clearTimeout(this.#acks.timer);
    this.#acks = undefined;
    const written = this.#stream.writtenOffset;
    const unconfirmed = this.#entries.filter((entry) => entry.seq !== 0 || !isWritten(entry, written));
    this.#entries = [];
    return unconfirmed.map(({ stanza, pair, resends }) => ({ stanza, pair, resends }));
  }
}

function isWritten(entry: Entry, writtenOffset: number): boolean {
  return entry.end !== 0 && entry.end <= writtenOffset;
}
