/**
 * An archive query (XEP-0313 section 4) read from its `<query/>`: the filters of its data form
 * (section 4.1), the page of XEP-0059 and `<flip-page/>` (section 4.3.4). Pure: a query that
 * cannot be run is a StanzaError, with the rule it broke.
 */
import { parseJid, JidMalformedError } from '../../jid/jid.ts';
import { findForm, readForm } from '../../muc/data-form.ts';
import type { Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { NS_MAM, NS_RSM } from './xmlns.ts';

/** The page a host serves (its `mam` settings). */
export interface PageLimits {
  page_size: number;
  max_page_size: number;
}

export interface ArchiveRequest {
  /** echoed in every result (section 4.2) */
  queryId: string | undefined;
  with: { bare: string; resource?: string } | undefined;
  /** positions (microseconds), inclusive */
  start: number | undefined;
  end: number | undefined;
  afterId: string | undefined;
  beforeId: string | undefined;
  ids: string[] | undefined;
  /** XEP-0059: results asked for (0: only the count), and where the page starts */
  max: number;
  rsmAfter: string | undefined;
  /** an empty string asks for the last page (XEP-0059 section 2.5) */
  rsmBefore: string | undefined;
  flip: boolean;
}

/** The fields a query form may carry (section 4.1), each with how many values it takes. */
const FIELDS = new Set(['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids']);
/** At most this many UIDs in one `ids` field: more than a page can hold is refused. */
const MAX_IDS = 1000;

export function parseArchiveQuery(query: Element, limits: PageLimits): ArchiveRequest {
  const fields = formFields(query);
  const single = (name: string): string | undefined => {
    const values = fields.get(name);
    if (values === undefined || values.length === 0) return undefined;
    if (values.length > 1) throw new StanzaError('bad-request', `the field ${name} takes one value`);
    return values[0];
  };
  const ids = fields.get('ids');
  if (ids !== undefined && ids.length > MAX_IDS) throw new StanzaError('policy-violation', `at most ${MAX_IDS} ids in one query`);
  const start = single('start');
  const end = single('end');
  return {
    queryId: query.attrs.queryid,
    with: withOf(single('with')),
    // Section 4.1.2: inclusive; positions are microseconds, a timestamp's millisecond covers 1000 of them.
    start: start === undefined ? undefined : timestamp(start, 'start') * 1000,
    end: end === undefined ? undefined : timestamp(end, 'end') * 1000 + 999,
    afterId: single('after-id'),
    beforeId: single('before-id'),
    ids: ids === undefined || ids.length === 0 ? undefined : [...new Set(ids)],
    ...page(query.getChild('set', NS_RSM), limits),
    flip: query.getChild('flip-page', NS_MAM) !== undefined,
  };
}

function formFields(query: Element): Map<string, string[]> {
  const form = findForm(query);
  if (form === undefined) return new Map();
  const fields = readForm(form);
  const formType = fields.get('FORM_TYPE')?.[0];
  if (formType !== undefined && formType !== NS_MAM) throw new StanzaError('bad-request', `the form must be of type ${NS_MAM}`);
  // Section 4.1.5: a field the server does not know is feature-not-implemented.
  for (const name of fields.keys()) {
    if (!FIELDS.has(name)) throw new StanzaError('feature-not-implemented', `this archive has no field ${name}`);
  }
  return fields;
}

function withOf(value: string | undefined): ArchiveRequest['with'] {
  if (value === undefined) return undefined;
  try {
    const jid = parseJid(value);
    // Section 4.1.1: a bare JID matches every resource of it, a full JID only that one.
    return jid.resource === undefined ? { bare: jid.toString() } : { bare: jid.bare().toString(), resource: jid.resource };
  } catch (error) {
    if (error instanceof JidMalformedError) throw new StanzaError('jid-malformed', `with: ${error.message}`);
    throw error;
  }
}

/** XEP-0082 section 3.3: a DateTime with a time zone; milliseconds since the epoch. */
function timestamp(value: string, field: string): number {
  const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  const ms = dateTime.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new StanzaError('bad-request', `${field} must be an XEP-0082 DateTime such as 2026-01-31T12:00:00Z`);
  return ms;
}

/** XEP-0059 section 2: the requested page, `max` held to the host's limit. */
function page(set: Element | undefined, limits: PageLimits): Pick<ArchiveRequest, 'max' | 'rsmAfter' | 'rsmBefore'> {
  const pageSize = Math.min(limits.page_size, limits.max_page_size);
  if (set === undefined) return { max: pageSize, rsmAfter: undefined, rsmBefore: undefined };
  // Section 2.6 (paging out of order) asks for an index this archive does not keep.
  if (set.getChild('index') !== undefined) throw new StanzaError('feature-not-implemented', 'paging by index is not supported; use after or before');
  const maxText = set.getChildText('max');
  let max = pageSize;
  if (maxText !== undefined) {
    if (!/^\d{1,9}$/.test(maxText.trim())) throw new StanzaError('bad-request', 'max must be a non-negative integer');
    max = Math.min(Number(maxText.trim()), limits.max_page_size);
  }
  const after = set.getChildText('after');
  const before = set.getChildText('before');
  // XEP-0313 section 4.3.2: after and before together are undefined; before-id and after-id do that.
  if (after !== undefined && before !== undefined) throw new StanzaError('bad-request', 'use after or before, not both; before-id and after-id select a range');
  if (after === '') throw new StanzaError('bad-request', 'after needs the UID of a message');
  return { max, rsmAfter: after, rsmBefore: before };
}
