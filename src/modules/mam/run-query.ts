/**
 * Runs an archive query against storage: UIDs become positions (a UID the archive does not
 * hold is item-not-found, XEP-0313 sections 4.1.3 and 4.3.2), the form's filters and the
 * RSM page become one storage query, and the count of everything the filters match comes
 * with the page (XEP-0059 section 2.5).
 */
import type { ArchiveFilter, ArchiveOwner, ArchivedMessage, ArchiveStore } from '../../storage/archive-types.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { ArchiveRequest } from './query.ts';

export interface QueryOutcome {
  messages: ArchivedMessage[];
  /** no more messages match beyond this page in the direction asked */
  complete: boolean;
  count: number;
}

export async function runArchiveQuery(store: ArchiveStore, owner: ArchiveOwner, request: ArchiveRequest): Promise<QueryOutcome> {
  const positionOf = async (id: string): Promise<number> => {
    const position = await store.positionOf(owner, id);
    if (position === undefined) throw new StanzaError('item-not-found', `the archive holds no message ${id}`);
    return position;
  };
  const filter: ArchiveFilter = { with: request.with, start: request.start, end: request.end, ids: request.ids };
  if (request.afterId !== undefined) filter.after = await positionOf(request.afterId);
  if (request.beforeId !== undefined) filter.before = await positionOf(request.beforeId);
  const count = await store.count(owner, filter);
  if (request.ids !== undefined && (await store.count(owner, { ids: request.ids })) !== request.ids.length) {
    throw new StanzaError('item-not-found', 'the archive does not hold every message asked for');
  }
  // XEP-0059 section 2.6: max 0 asks only for the count.
  if (request.max === 0) return { messages: [], complete: count === 0, count };
  const paged: ArchiveFilter = { ...filter };
  if (request.rsmAfter !== undefined) paged.after = Math.max(await positionOf(request.rsmAfter), filter.after ?? -Infinity);
  if (request.rsmBefore !== undefined && request.rsmBefore !== '') paged.before = Math.min(await positionOf(request.rsmBefore), filter.before ?? Infinity);
  const backward = request.rsmBefore !== undefined;
  const page = await store.query(owner, paged, { max: request.max, backward });
  return { ...page, count };
}
