/**
 * Sends the results of a query to the client that asked, before the IQ result that ends it
 * (XEP-0313 section 4.2). A page stops at RESULT_BYTES of archived stanzas whatever its `max`,
 * so one query never floods a client's output budget; the page then says it is not complete
 * and the client asks for the next one from its last result.
 */
import type { ArchivedMessage } from '../../storage/archive-types.ts';
import type { Element } from '../../xml/element.ts';
import type { Logger } from '../../util/log.ts';
import { parseStoredStanza } from '../offline/stored-stanza.ts';
import type { ArchiveRequest } from './query.ts';
import { resultMessage } from './results.ts';
import type { QueryOutcome } from './run-query.ts';

export const RESULT_BYTES = 256 * 1024;

export interface ResultTarget {
  /** the archive's JID: the results come from it */
  archive: string;
  /** the full JID of the client that asked */
  to: string;
  send(stanza: Element): void;
  logger: Logger;
  /** changes a stored stanza before it is sent (a room adds what the asker may see), if needed */
  shape?(original: Element): Element;
}

/** Sends the page (cut to RESULT_BYTES: the oldest kept going forward, the newest going backward); returns what was sent, in archive order. */
export function sendResults(outcome: QueryOutcome, request: ArchiveRequest, target: ResultTarget): ArchivedMessage[] {
  const page = withinBytes(outcome.messages, request.rsmBefore !== undefined);
  const order = request.flip ? [...page].reverse() : page;
  for (const archived of order) {
    let original: Element;
    try {
      original = parseStoredStanza(archived.stanza);
    } catch (error) {
      target.logger.error('an archived message cannot be read; it is left out of the results', { archive: target.archive, id: archived.id, error: error instanceof Error ? error.message : String(error) });
      continue;
    }
    target.send(resultMessage(archived, target.shape ? target.shape(original) : original, target.archive, target.to, request.queryId));
  }
  return page;
}

function withinBytes(messages: readonly ArchivedMessage[], backward: boolean): ArchivedMessage[] {
  const ordered = backward ? [...messages].reverse() : [...messages];
  const kept: ArchivedMessage[] = [];
  let bytes = 0;
  for (const message of ordered) {
    bytes += Buffer.byteLength(message.stanza);
    // The first result always goes, so a page is never empty while results remain.
    if (kept.length > 0 && bytes > RESULT_BYTES) break;
    kept.push(message);
  }
  return backward ? kept.reverse() : kept;
}
