import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { orderSrvRecords, type SrvRecord } from './dns-srv-order.ts';

/** mulberry32: a small seeded generator, so the statistics below are reproducible */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function srv(name: string, priority: number, weight: number, port = 5269): SrvRecord {
  return { name, port, priority, weight };
}

describe('SRV ordering (RFC 2782)', () => {
  test('every lower-priority target comes before any higher-priority one', () => {
    const records = [srv('c', 20, 50), srv('a', 10, 10), srv('d', 20, 0), srv('b', 10, 90), srv('e', 5, 0)];
    const random = seededRandom(1);
    for (let round = 0; round < 200; round++) {
      const ordered = orderSrvRecords(records, random);
      assert.deepEqual(ordered.map((record) => record.priority), [5, 10, 10, 20, 20]);
      assert.deepEqual(new Set(ordered.map((record) => record.name)), new Set(['a', 'b', 'c', 'd', 'e']));
    }
  });

  test('weights 0 and 100: the weight-0 target comes first in about 1 of 101 orderings', () => {
    const records = [srv('heavy', 10, 100), srv('zero', 10, 0)];
    const random = seededRandom(0x5eed);
    const runs = 10_000;
    let zeroFirst = 0;
    for (let round = 0; round < runs; round++) if (orderSrvRecords(records, random)[0]!.name === 'zero') zeroFirst++;
    const share = zeroFirst / runs;
    assert.ok(share >= 0.005 && share <= 0.015, `weight-0 first in ${(share * 100).toFixed(2)}% of orderings`);
  });

  test('within a priority, targets are picked in proportion to their weights', () => {
    const records = [srv('one', 1, 10), srv('three', 1, 30), srv('six', 1, 60)];
    const random = seededRandom(42);
    const firsts = new Map<string, number>();
    const runs = 20_000;
    for (let round = 0; round < runs; round++) {
      const first = orderSrvRecords(records, random)[0]!.name;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    // the draw is in [0, 100] inclusive: 'one' takes 0..10 (11/101), 'three' 11..40, 'six' 41..100
    assert.ok(Math.abs(firsts.get('one')! / runs - 11 / 101) < 0.015);
    assert.ok(Math.abs(firsts.get('three')! / runs - 30 / 101) < 0.02);
    assert.ok(Math.abs(firsts.get('six')! / runs - 60 / 101) < 0.02);
  });

  test('the draw is inclusive of both ends of [0, sum]', () => {
    const records = [srv('a', 1, 5), srv('b', 1, 5)];
    assert.deepEqual(orderSrvRecords(records, () => 0).map((record) => record.name), ['a', 'b']);
    assert.deepEqual(orderSrvRecords(records, () => 0.9999999).map((record) => record.name), ['b', 'a']);
  });

  test('records of weight 0 only are all kept', () => {
    const records = [srv('a', 1, 0), srv('b', 1, 0), srv('c', 1, 0)];
    const ordered = orderSrvRecords(records, seededRandom(3));
    assert.equal(ordered.length, 3);
    assert.deepEqual(new Set(ordered.map((record) => record.name)), new Set(['a', 'b', 'c']));
  });

  test('no records, no order; the input is left untouched', () => {
    assert.deepEqual(orderSrvRecords([]), []);
    const records = [srv('b', 2, 1), srv('a', 1, 1)];
    orderSrvRecords(records);
    assert.deepEqual(records.map((record) => record.name), ['b', 'a']);
  });
});
