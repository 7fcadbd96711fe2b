/**
 * Stanza IDs (XEP-0359) as an archive hands them out: the archive's UID for a message, added
 * as `<stanza-id by='archive'/>` (XEP-0313 section 3.5). An ID is 18 random bytes in base64url,
 * so nobody can guess another message's ID (XEP-0313 section 3).
 */
import { randomFillSync } from 'node:crypto';
import type { Element } from '../../xml/element.ts';
import { NS_SID } from './xmlns.ts';

const ID_BYTES = 18;
/** IDs' worth of random bytes drawn at once: one call to the system's generator per 256 messages, not one per message */
const IDS_PER_DRAW = 256;
const drawn = Buffer.alloc(ID_BYTES * IDS_PER_DRAW);
let nextInDraw = IDS_PER_DRAW;

export function newArchiveId(): string {
  if (nextInDraw === IDS_PER_DRAW) {
    randomFillSync(drawn);
    nextInDraw = 0;
  }
  const start = nextInDraw++ * ID_BYTES;
  return drawn.toString('base64url', start, start + ID_BYTES);
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
