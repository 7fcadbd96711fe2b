/**
 * What an archive answers (XEP-0313): each result as a message wrapping the archived one
 * (section 4.2), the `<fin/>` that closes a query with its RSM page (XEP-0059 section 2), the
 * query form (section 4.1.5) and the archive's metadata (section 5).
 */
import { randomUUID } from 'node:crypto';
import { renderForm } from '../../muc/data-form.ts';
import type { ArchivedMessage } from '../../storage/archive-types.ts';
import { el, NS_CLIENT, type Element } from '../../xml/element.ts';
import { NS_FORWARD } from '../../xml/namespaces.ts';
import { NS_DELAY, NS_MAM, NS_RSM } from './xmlns.ts';
import type { QueryOutcome } from './run-query.ts';

/** When a message was archived, as XEP-0082 says (UTC). */
export function stampOf(position: number): string {
  return new Date(Math.floor(position / 1000)).toISOString();
}

/**
 * Section 4.2: `<result/>` with the archive's UID and the query's id, the original in
 * `<forwarded/>` (XEP-0297) with a `<delay/>` stamped when it was archived.
 */
export function resultMessage(archived: ArchivedMessage, original: Element, from: string, to: string, queryId: string | undefined): Element {
  return el(
    'message',
    NS_CLIENT,
    { from, to, id: randomUUID() },
    el('result', NS_MAM, { queryid: queryId, id: archived.id }, el('forwarded', NS_FORWARD, {}, el('delay', NS_DELAY, { stamp: stampOf(archived.position) }), original)),
  );
}

/**
 * Section 4.3: `<fin/>`, complete when no more results lie in the direction asked, with the
 * UIDs of the page's first and last results and the count of all that match.
 */
export function finElement(outcome: QueryOutcome, sent: readonly ArchivedMessage[]): Element {
  const set = el('set', NS_RSM);
  const first = sent[0];
  const last = sent[sent.length - 1];
  if (first !== undefined && last !== undefined) {
    set.c('first').t(first.id);
    set.c('last').t(last.id);
  }
  set.c('count').t(String(outcome.count));
  const complete = outcome.complete && sent.length === outcome.messages.length;
  return el('fin', NS_MAM, complete ? { complete: 'true' } : {}, set);
}

/** Section 4.1.5: the fields a query may use; `ids` is open to any value (XEP-0122). */
export function queryForm(): Element {
  const form = renderForm('form', NS_MAM, [
    { var: 'with', type: 'jid-single', values: [] },
    { var: 'start', type: 'text-single', values: [] },
    { var: 'end', type: 'text-single', values: [] },
    { var: 'after-id', type: 'text-single', values: [] },
    { var: 'before-id', type: 'text-single', values: [] },
    { var: 'ids', type: 'list-multi', values: [] },
  ]);
  const ids = form.getChildren('field').find((field) => field.attrs.var === 'ids');
  ids?.append(el('validate', 'http://jabber.org/protocol/xdata-validate', { datatype: 'xs:string' }, el('open', 'http://jabber.org/protocol/xdata-validate')));
  return el('query', NS_MAM, {}, form);
}

/** Section 5: the oldest and newest message, or nothing for an empty archive. */
export function metadataElement(bounds: { first: ArchivedMessage; last: ArchivedMessage } | undefined): Element {
  const metadata = el('metadata', NS_MAM);
  if (bounds !== undefined) {
    metadata.c('start', { id: bounds.first.id, timestamp: stampOf(bounds.first.position) });
    metadata.c('end', { id: bounds.last.id, timestamp: stampOf(bounds.last.position) });
  }
  return metadata;
}
