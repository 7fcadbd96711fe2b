/**
 * What an outgoing server stream sent and the peer may not have yet. With stream management
 * (XEP-0198) a stanza is the peer's once it acknowledged it; without, once our socket took it
 * (beyond that TCP is all there is). When the connection drops, whatever is not the peer's is
 * handed back to be sent again on the next connection or bounced: never dropped.
 *
 * What waits for an acknowledgement is bounded: a peer that stops acknowledging while it reads
 * is treated as one without stream management, so only what the socket has not taken is held;
 * one that stops answering altogether is reported (`unanswered`) so that its connection is
 * closed and what it holds goes the resend-or-bounce way. A stanza's receipt (router/receipts.ts)
 * is called once the peer has it, and travels with it when it is handed back. Stanzas are held as the XML written,
 * which is several times smaller than their element trees, and counted in characters (`held`)
 * against the connection's output budget.
 */
import { NS_CLIENT, type Element } from '../xml/element.ts';
import { flatString } from '../xml/flat-string.ts';
import { parseElement, STORED_LIMITS } from '../xml/parse-element.ts';
import type { OutputBudget } from '../net/output-budget.ts';
import { ackRequest, acknowledgedCount } from '../net/stream-management.ts';
import { attachReceipt, type Receipt } from '../router/receipts.ts';
import type { Pair } from './binding-table.ts';

export interface TrackedStanza {
  readonly stanza: Element;
  /** its pair of domains (local sender, remote addressee) */
  readonly pair: Pair;
  /** how many connections it was sent on before this one */
  readonly resends: number;
}

interface Entry {
  /** the stanza as written */
  readonly xml: string;
  readonly pair: Pair;
  readonly resends: number;
  /** told once the peer has it */
  readonly receipt: Receipt | undefined;
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
  /** the peer left an acknowledgement request unanswered for ACK_ANSWER_TIMEOUT_MS */
  unanswered(): void;
}

/** An acknowledgement is asked for after every so many stanzas, and after a short delay for the last few. */
const ACK_REQUEST_INTERVAL = 16;
const ACK_REQUEST_DELAY_MS = 500;
/** Stanzas sent and not acknowledged before acknowledgements are given up on this stream. */
export const MAX_UNACKNOWLEDGED = 10_000;
/** How long a peer may leave a request unanswered while we hold stanzas it may not have. */
export const ACK_ANSWER_TIMEOUT_MS = 60_000;

export class DeliveryTracker {
  #stream: TrackedStream;
  /** what the peer may not have, in the order sent: `#entries` from index `#head` on */
  #entries: Entry[] = [];
  #head = 0;
  #acks: { sent: number; requested: boolean; timer: NodeJS.Timeout | undefined; answerTimer: NodeJS.Timeout | undefined } | undefined;
  /** characters of XML held */
  #held = 0;

  #budget: OutputBudget;

  /** `budget`: what one connection and all server connections together may hold (s2s.output) */
  constructor(stream: TrackedStream, budget: OutputBudget) {
    this.#stream = stream;
    this.#budget = budget;
  }

  /** characters of XML held until the peer has them */
  get held(): number {
    return this.#held;
  }

  /**
   * Writes a stanza's XML (serialized against jabber:client, as stanzas are held): `sent`;
   * `acks-given-up` when it was sent but acknowledgements were given up because too many are
   * missing; `over-budget` when it was not sent because the output budget is spent.
   */
  send(xml: string, pair: Pair, resends: number, receipt?: Receipt): 'sent' | 'acks-given-up' | 'over-budget' {
    if (!this.#budget.fits(this.#held, xml.length)) {
      this.#budget.overflows++;
      return 'over-budget';
    }
    if (this.#acks && this.#pending >= MAX_UNACKNOWLEDGED) {
      this.stopAcks();
      this.send(xml, pair, resends, receipt);
      return 'acks-given-up';
    }
    const acks = this.#acks;
    // Held until acknowledged, which under load outlasts a young-generation collection: in one piece.
    const entry: Entry = { xml: flatString(xml), pair, resends, receipt, end: 0, seq: acks ? ++acks.sent : 0 };
    entry.end = this.#stream.write(xml);
    this.#entries.push(entry);
    this.#hold(xml.length);
    if (!acks) return 'sent';
    // Every so many stanzas, whether or not an earlier request is answered: the peer answers each
    // in order, so a dropped connection leaves at most that many in doubt beyond what it processed.
    if (acks.sent % ACK_REQUEST_INTERVAL === 0) this.#requestAck();
    else if (!acks.requested) acks.timer ??= setTimeout(() => this.#requestAck(), ACK_REQUEST_DELAY_MS).unref();
    return 'sent';
  }

  /** We sent <enable/> (XEP-0198 section 3): the peer counts what we send from now on. */
  startAcks(): void {
    this.#acks = { sent: 0, requested: false, timer: undefined, answerTimer: undefined };
  }

  /** The peer answered <failed/>: only our socket vouches for what we sent. */
  stopAcks(): void {
    this.#clearTimers();
    this.#acks = undefined;
    for (let index = this.#head; index < this.#entries.length; index++) this.#entries[index]!.seq = 0;
    this.written(this.#stream.writtenOffset);
  }

  #requestAck(): void {
    const acks = this.#acks;
    if (!acks) return;
    clearTimeout(acks.timer);
    acks.timer = undefined;
    if (this.#pending === 0) return;
    acks.requested = true;
    this.#stream.write(ackRequest);
    acks.answerTimer ??= setTimeout(() => this.#stream.unanswered(), ACK_ANSWER_TIMEOUT_MS).unref();
  }

  /** Section 4: the peer acknowledged `h` stanzas. Returns false when that is more than we sent. */
  acknowledge(h: number): boolean {
    const acks = this.#acks;
    if (!acks) return true;
    const acked = acknowledgedCount(h, acks.sent);
    if (acked === undefined) return false;
    acks.requested = false;
    clearTimeout(acks.answerTimer);
    acks.answerTimer = undefined;
    const written = this.#stream.writtenOffset;
    let keep = this.#head;
    while (keep < this.#entries.length) {
      const entry = this.#entries[keep]!;
      if (entry.seq === 0 ? !isWritten(entry, written) : entry.seq > acked) break;
      keep++;
    }
    this.#drop(keep - this.#head);
    if (this.#pending > 0) acks.timer ??= setTimeout(() => this.#requestAck(), ACK_REQUEST_DELAY_MS).unref();
    return true;
  }

  /** The socket took everything up to `offset`: without acknowledgements that is as far as we can know. */
  written(offset: number): void {
    let done = this.#head;
    while (done < this.#entries.length && this.#entries[done]!.seq === 0 && isWritten(this.#entries[done]!, offset)) done++;
    this.#drop(done - this.#head);
  }

  /** stanzas the peer may not have */
  get #pending(): number {
    return this.#entries.length - this.#head;
  }

  /**
   * The first `count` pending entries are the peer's. The head moves instead of the array being
   * copied, so that each acknowledgement costs what it releases, not what is still pending (a
   * peer that falls behind holds thousands); the array is compacted once half of it is released,
   * so released stanzas stay referenced only while they are fewer than those pending (or 64).
   */
  #drop(count: number): void {
    if (count === 0) return;
    const entries = this.#entries;
    const start = this.#head;
    const end = start + count;
    let released = 0;
    for (let index = start; index < end; index++) released += entries[index]!.xml.length;
    this.#head = end;
    if (end === entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (end >= 64 && end * 2 >= entries.length) {
      this.#entries = entries.slice(end);
      this.#head = 0;
    }
    this.#hold(-released);
    // Last: a receipt may send again.
    for (let index = start; index < end; index++) entries[index]!.receipt?.();
  }

  #hold(delta: number): void {
    this.#held += delta;
    if (delta > 0) this.#budget.take(delta);
    else this.#budget.release(-delta);
  }

  #clearTimers(): void {
    clearTimeout(this.#acks?.timer);
    clearTimeout(this.#acks?.answerTimer);
  }

  /** The connection is gone: what the peer may not have, in the order it was sent. */
  takeUnconfirmed(): TrackedStanza[] {
    this.#clearTimers();
    this.#acks = undefined;
    const written = this.#stream.writtenOffset;
    const confirmed = (entry: Entry): boolean => entry.seq === 0 && isWritten(entry, written);
    const pending = this.#entries.slice(this.#head);
    const unconfirmed = pending.filter((entry) => !confirmed(entry));
    this.#entries = pending.filter(confirmed);
    this.#head = 0;
    this.#drop(this.#entries.length);
    this.#hold(-unconfirmed.reduce((sum, entry) => sum + entry.xml.length, 0));
    // Parsed again only on this rare path: our own serialization, so it parses.
    return unconfirmed.map(({ xml, pair, resends, receipt }) => {
      const stanza = parseElement(xml, STORED_LIMITS, NS_CLIENT);
      attachReceipt(stanza, receipt);
      return { stanza, pair, resends };
    });
  }
}

function isWritten(entry: Entry, writtenOffset: number): boolean {
  return entry.end !== 0 && entry.end <= writtenOffset;
}
