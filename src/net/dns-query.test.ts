import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNoRecords, shareInFlight } from './dns-query.ts';

test('questions asked while one is in flight share its answer, and its failure; the next is asked anew', async () => {
  const inFlight = new Map<string, Promise<string>>();
  let queries = 0;
  let answer!: (value: string) => void;
  const ask = () => shareInFlight(inFlight, 'srv example.net', () => new Promise<string>((resolve) => ((answer = resolve), queries++)));
  const both = Promise.all([ask(), ask(), ask()]);
  assert.equal(queries, 1);
  answer('records');
  assert.deepEqual(await both, ['records', 'records', 'records']);
  assert.equal(inFlight.size, 0);
  const failing = shareInFlight(inFlight, 'srv example.net', () => Promise.reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })));
  const sharing = shareInFlight(inFlight, 'srv example.net', () => Promise.resolve('never asked'));
  await assert.rejects(failing, /timeout/);
  await assert.rejects(sharing, /timeout/);
  assert.equal(await shareInFlight(inFlight, 'srv example.net', () => Promise.resolve('asked again')), 'asked again');
  assert.equal(isNoRecords(Object.assign(new Error(), { code: 'ENODATA' })), true);
  assert.equal(isNoRecords(Object.assign(new Error(), { code: 'ESERVFAIL' })), false);
});
