import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelledCounter, MAX_SERIES, stanzaKind } from './traffic-counters.ts';

test('a labelled counter counts per label set, and past its bound counts new sets under "other"', () => {
  const counter = new LabelledCounter('result', 'mechanism');
  counter.add('success', 'SCRAM-SHA-256');
  counter.add('success', 'SCRAM-SHA-256');
  counter.add('failure', 'PLAIN');
  assert.deepEqual(counter.series(), [
    { labels: { result: 'success', mechanism: 'SCRAM-SHA-256' }, value: 2 },
    { labels: { result: 'failure', mechanism: 'PLAIN' }, value: 1 },
  ]);
  for (let i = 0; i < MAX_SERIES + 50; i++) counter.add('failure', `made-up-${i}`);
  const series = counter.series();
  assert.equal(series.length, MAX_SERIES + 1, 'the bound, and one "other" set');
  assert.deepEqual(series.at(-1), { labels: { result: 'other', mechanism: 'other' }, value: 52 });
  counter.add('success', 'SCRAM-SHA-256');
  assert.equal(counter.series()[0]!.value, 3, 'known sets still count');
  assert.deepEqual(['message', 'presence', 'iq', 'stream'].map(stanzaKind), ['message', 'presence', 'iq', 'other']);
});

test('a counter with one label counts under it alone, and past its bound under "other"', () => {
  const counter = new LabelledCounter('condition');
  counter.add('item-not-found');
  counter.add('item-not-found');
  assert.deepEqual(counter.series(), [{ labels: { condition: 'item-not-found' }, value: 2 }]);
  for (let i = 0; i < MAX_SERIES; i++) counter.add(`made-up-${i}`);
  assert.deepEqual(counter.series().at(-1), { labels: { condition: 'other' }, value: 1 });
});

test('series counted in turns each keep their own count (the last one counted is remembered)', () => {
  const counter = new LabelledCounter('origin', 'kind');
  for (const [origin, kind] of [['client', 'message'], ['client', 'message'], ['server', 'iq'], ['client', 'message'], ['client', 'iq'], ['server', 'iq']] as const) counter.add(origin, kind);
  assert.deepEqual(counter.series(), [
    { labels: { origin: 'client', kind: 'message' }, value: 3 },
    { labels: { origin: 'client', kind: 'iq' }, value: 1 },
    { labels: { origin: 'server', kind: 'iq' }, value: 2 },
  ]);
});
