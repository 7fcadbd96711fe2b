/**
 * What an outgoing server stream sent and the peer may not have yet. With stream management
 * (XEP-0198) a stanza is the peer's once it acknowledged it; without, once our socket took it
 * (beyond that TCP is all there is). When the connection drops, whatever is not the peer's is
 * handed back to be sent again on the next connection or bounced: never dropped.
 */
import { NS_CLIENT, type Element } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import { ackRequest, acknowledgedCount } from '../net/stream-management.ts';

export interface TrackedStanza {
  readonly stanza: Element;
  /** the local domain it is sent from (its pair on the stream) */
  readonly localDomain: string;
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

export class DeliveryTracker {
  #stream: TrackedStream;
  #entries: Entry[] = [];
  #acks: { sent: number; requested: boolean; timer: NodeJS.Timeout | undefined } | undefined;

  constructor(stream: TrackedStream) {
    this.#stream = stream;
  }

  /** stanzas the peer may not have yet */
  get size(): number {
    return this.#entries.length;
  }

  get acknowledging(): boolean {
    return this.#acks !== undefined;
  }

  send(stanza: Element, localDomain: string, resends: number): void {
    const acks = this.#acks;
    const entry: Entry = { stanza, localDomain, resends, end: 0, seq: acks ? ++acks.sent : 0 };
    entry.end = this.#stream.write(serialize(stanza, NS_CLIENT));
    this.#entries.push(entry);
    if (!acks) return;
    // Every so many stanzas, whether or not an earlier request is answered: the peer answers each
    // in order, so a dropped connection leaves at most that many in doubt beyond what it processed.
    if (acks.sent % ACK_REQUEST_INTERVAL === 0) this.#requestAck();
    else if (!acks.requested) acks.timer ??= setTimeout(() => this.#requestAck(), ACK_REQUEST_DELAY_MS).unref();
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
    return unconfirmed.map(({ stanza, localDomain, resends }) => ({ stanza, localDomain, resends }));
  }
}

function isWritten(entry: Entry, writtenOffset: number): boolean {
  return entry.end !== 0 && entry.end <= writtenOffset;
}
