/**
 * The messages a room keeps for newcomers (XEP-0045 section 7.2.15) and what a newcomer asks of
 * them (section 7.2.16: maxchars, maxstanzas, seconds, since).
 */
import { el, type Element } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import { NS_DELAY } from './xmlns.ts';

interface Entry {
  stanza: Element;
  /** milliseconds since the epoch */
  at: number;
  /** characters of the stanza as sent, delay included (section 7.2.16 counts whole stanzas) */
  chars: number;
}

/** Characters of stanzas one room keeps at most, whatever its length says: large stanzas make it shorter. */
export const MAX_HISTORY_CHARS = 1024 * 1024;

export interface HistoryRequest {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  /** milliseconds since the epoch */
  since?: number;
}

export class RoomHistory {
  #entries: Entry[] = [];
  #limit: number;
  #chars = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get length(): number {
    return this.#entries.length;
  }

  setLimit(limit: number): void {
    this.#limit = limit;
    this.#trim();
  }

  /** Keeps a copy of a broadcast message (from the occupant's room JID, no `to`), stamped by the room (XEP-0203). */
  push(stanza: Element, room: string, at: number): void {
    if (this.#limit === 0) return;
    const kept = stanza.clone();
    delete kept.attrs.to;
    kept.append(el('delay', NS_DELAY, { from: room, stamp: new Date(at).toISOString() }));
    const chars = serialize(kept).length;
    this.#entries.push({ stanza: kept, at, chars });
    this.#chars += chars;
    this.#trim();
  }


  /** Forgets the messages `match` picks (a moderated message, XEP-0425 section 5); returns how many. */
  removeWhere(match: (stanza: Element) => boolean): number {
    const kept = this.#entries.filter((entry) => !match(entry.stanza));
    const removed = this.#entries.length - kept.length;
    this.#entries = kept;
    this.#chars = kept.reduce((sum, entry) => sum + entry.chars, 0);
    return removed;
  }

  /** The newest messages that fit every limit of the request, oldest first; each a copy to address. */
  select(request: HistoryRequest, now: number): Element[] {
    let stanzas = request.maxstanzas ?? Infinity;
    let chars = request.maxchars ?? Infinity;
    const after = Math.max(request.since ?? -Infinity, request.seconds === undefined ? -Infinity : now - request.seconds * 1000);
    const chosen: Element[] = [];
    for (let index = this.#entries.length - 1; index >= 0 && stanzas > 0; index--) {
      const entry = this.#entries[index]!;
      if (entry.at < after || entry.chars > chars) break;
      chosen.push(entry.stanza.clone());
      stanzas--;
      chars -= entry.chars;
    }
    return chosen.reverse();
  }

  #trim(): void {
    let drop = Math.max(0, this.#entries.length - this.#limit);
    let chars = this.#chars;
    for (let index = 0; index < drop; index++) chars -= this.#entries[index]!.chars;
    while (chars > MAX_HISTORY_CHARS && drop < this.#entries.length) chars -= this.#entries[drop++]!.chars;
    if (drop === 0) return;
    this.#entries.splice(0, drop);
    this.#chars = chars;
  }
}

/** Section 7.2.16: the <history/> of a join request; attributes that are not numbers or dates are ignored. */
export function readHistoryRequest(history: Element | undefined): HistoryRequest {
  if (history === undefined) return {};
  const number = (name: string): number | undefined => {
    const value = history.attrs[name];
    if (value === undefined || !/^\d+$/.test(value)) return undefined;
    return Number(value);
  };
  const request: HistoryRequest = {};
  const maxchars = number('maxchars');
  const maxstanzas = number('maxstanzas');
  const seconds = number('seconds');
  if (maxchars !== undefined) request.maxchars = maxchars;
  if (maxstanzas !== undefined) request.maxstanzas = maxstanzas;
  if (seconds !== undefined) request.seconds = seconds;
  const since = history.attrs.since === undefined ? NaN : Date.parse(history.attrs.since);
  if (!Number.isNaN(since)) request.since = since;
  return request;
}
