/**
 * The order in which stanzas reached the server, for offline storage to keep (XEP-0160 section
 * 2: stored messages are delivered in the order they arrived). A message can reach the store
 * later than a newer one: a session that ends hands back what it still held after newer
 * messages already went to storage past its output budget. Its arrival position, noted when it
 * was queued, puts it back in its place.
 */
import type { Element } from '../xml/element.ts';

const positions = new WeakMap<Element, number>();
let lastPosition = 0;

/** A position after every one handed out before: milliseconds since the epoch times 1000, kept increasing. */
export function nextArrival(): number {
  lastPosition = Math.max(lastPosition + 1, Date.now() * 1000);
  return lastPosition;
}

/**
 * A position after every one handed out before, without reading the clock (but for the first):
 * for a client's outbound queue, which asks for one per stanza and needs them only for their
 * order (a stanza handed back to storage goes in its place among those stored meanwhile, whose
 * `nextArrival` positions also move this one on).
 */
export function nextQueuePosition(): number {
  lastPosition = lastPosition === 0 ? Date.now() * 1000 : lastPosition + 1;
  return lastPosition;
}

/** Notes where a stanza arrived, unless an earlier position is already noted. */
export function noteArrival(stanza: Element, position: number): void {
  const known = positions.get(stanza);
  if (known === undefined || position < known) positions.set(stanza, position);
}

/** The position noted for a stanza, or a new one. */
export function arrivalOf(stanza: Element): number {
  return positions.get(stanza) ?? nextArrival();
}
