/**
 * Stanza IDs (XEP-0359) as an archive hands them out: the archive's UID for a message, added
 * as `<stanza-id by='archive'/>` (XEP-0313 section 3.5). An ID is the message's archive position
 * in base 36, then 12 random bytes in base64url: nobody can guess another message's ID
 * (XEP-0313 section 3), and within one archive IDs sort as their messages do, so the index of
 * IDs (`archive_messages_by_id`) grows at its end, as the archive does, instead of taking each
 * new ID at a random place (docs/performance.md, "The message archive's writes").
 */
import { randomFillSync } from 'node:crypto';
import type { Element } from '../../xml/element.ts';
import { NS_SID } from './xmlns.ts';

const RANDOM_BYTES = 12;
/** positions (microseconds since the epoch) take 11 base-36 digits until the year 5138 */
const POSITION_DIGITS = 11;
/** IDs' worth of random bytes drawn at once: one call to the system's generator per 256 messages, not one per message */
const IDS_PER_DRAW = 256;
const drawn = Buffer.alloc(RANDOM_BYTES * IDS_PER_DRAW);
let nextInDraw = IDS_PER_DRAW;

/** The ID of the message archived at `position` (an arrival position, src/router/arrival.ts). */
export function newArchiveId(position: number): string {
  if (nextInDraw === IDS_PER_DRAW) {
    randomFillSync(drawn);
    nextInDraw = 0;
  }
  const start = nextInDraw++ * RANDOM_BYTES;
  return position.toString(36).padStart(POSITION_DIGITS, '0') + drawn.toString('base64url', start, start + RANDOM_BYTES);
}

/**
 * XEP-0359 section 3: a `<stanza-id/>` that claims to come from an archive of ours (`by` is
 * the archive's JID) and did not come from it is removed, so nobody can slip an ID into
 * someone's archive; removed even when the archive keeps nothing of the message. The
 * client's own `<origin-id/>` (section 2.2) stays as it is.
 */
export function removeStanzaIdsBy(stanza: Element, by: string): void {
  stanza.children = stanza.children.filter((child) => typeof child === 'string' || child.name !== 'stanza-id' || child.xmlns !== NS_SID || child.attrs.by !== by);
}

/** Adds the archive's ID (XEP-0359 section 2.1); returns the element, so it can be taken off again. */
export function addStanzaId(stanza: Element, by: string, id: string): Element {
  return stanza.c('stanza-id', { by, id }, NS_SID);
}
