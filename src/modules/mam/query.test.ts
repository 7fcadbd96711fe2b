import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElement } from '../../xml/parse-element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { parseArchiveQuery } from './query.ts';

const LIMITS = { page_size: 50, max_page_size: 250 };

function query(inner: string, attrs = ''): ReturnType<typeof parseArchiveQuery> {
  return parseArchiveQuery(parseElement(`<query xmlns='urn:xmpp:mam:2'${attrs}>${inner}</query>`), LIMITS);
}

function form(fields: Record<string, string | string[]>): string {
  const rendered = Object.entries(fields)
    .map(([name, value]) => `<field var='${name}'>${(Array.isArray(value) ? value : [value]).map((item) => `<value>${item}</value>`).join('')}</field>`)
    .join('');
  return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>${rendered}</x>`;
}

function refused(inner: string, condition: string): void {
  assert.throws(() => query(inner), (error: unknown) => error instanceof StanzaError && error.condition === condition);
}

test('a query without form or set asks for the first page of everything', () => {
  const request = query('', " queryid='q1'");
  assert.equal(request.queryId, 'q1');
  assert.equal(request.max, 50);
  assert.equal(request.with, undefined);
  assert.equal(request.rsmAfter, undefined);
  assert.equal(request.rsmBefore, undefined);
  assert.equal(request.flip, false);
});

test('with: a bare JID matches every resource, a full JID keeps its resource; both prepared', () => {
  assert.deepEqual(query(form({ with: 'Juliet@Capulet.lit' })).with, { bare: 'juliet@capulet.lit' });
  assert.deepEqual(query(form({ with: 'juliet@capulet.lit/Balcony' })).with, { bare: 'juliet@capulet.lit', resource: 'Balcony' });
  refused(form({ with: '@nobody' }), 'jid-malformed');
});

test('start and end are XEP-0082 timestamps, inclusive to the microsecond', () => {
  const request = query(form({ start: '2026-01-31T12:00:00Z', end: '2026-01-31T12:00:01.500+01:00' }));
  assert.equal(request.start, Date.parse('2026-01-31T12:00:00Z') * 1000);
  assert.equal(request.end, Date.parse('2026-01-31T11:00:01.500Z') * 1000 + 999);
  refused(form({ start: 'yesterday' }), 'bad-request');
  refused(form({ end: '2026-01-31' }), 'bad-request');
});

test('the extended fields: before-id, after-id and ids (duplicates once)', () => {
  const request = query(form({ 'after-id': 'a', 'before-id': 'b', ids: ['x', 'y', 'x'] }));
  assert.equal(request.afterId, 'a');
  assert.equal(request.beforeId, 'b');
  assert.deepEqual(request.ids, ['x', 'y']);
});

test('an unknown field is feature-not-implemented; a foreign FORM_TYPE or two values for one field is bad-request', () => {
  refused(form({ 'include-groupchat': 'true' }), 'feature-not-implemented');
  refused("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>", 'bad-request');
  refused(form({ with: ['a@b', 'c@d'] }), 'bad-request');
  refused(form({ ids: Array.from({ length: 1001 }, (_, i) => `id${i}`) }), 'policy-violation');
});

test('RSM: max held to the host limit, after, before (empty: the last page), flip-page', () => {
  const rsm = (inner: string): string => `<set xmlns='http://jabber.org/protocol/rsm'>${inner}</set>`;
  assert.equal(query(rsm('<max>10</max>')).max, 10);
  assert.equal(query(rsm('<max>0</max>')).max, 0);
  assert.equal(query(rsm('<max>100000</max>')).max, 250);
  assert.equal(query(rsm('<after>abc</after>')).rsmAfter, 'abc');
  assert.equal(query(rsm('<before/>')).rsmBefore, '');
  assert.equal(query(rsm('<before>abc</before>')).rsmBefore, 'abc');
  assert.equal(query("<flip-page/>").flip, true);
  refused(rsm('<max>-1</max>'), 'bad-request');
  refused(rsm('<max>ten</max>'), 'bad-request');
  refused(rsm('<after>a</after><before>b</before>'), 'bad-request');
  refused(rsm('<after/>'), 'bad-request');
  refused(rsm('<index>3</index>'), 'feature-not-implemented');
});
