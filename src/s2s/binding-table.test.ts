import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BindingTable } from './binding-table.ts';

const AB = { local: 'a.example', remote: 'b.example' };
const AC = { local: 'a.example', remote: 'c.example' };

describe('the binding table', () => {
  test('outbound stanzas use the first connection of the list (draft section 4)', () => {
    const table = new BindingTable<string>();
    assert.equal(table.route(AB), undefined);
    table.bind(AB, 'out', 'c1', 'dialback');
    table.bind(AB, 'out', 'c2', 'dialback');
    table.bind(AB, 'out', 'c1', 'dialback');
    assert.equal(table.route(AB), 'c1');
    table.unbind(AB, 'out', 'c1');
    assert.equal(table.route(AB), 'c2', 'the next one takes over');
  });

  test('inbound stanzas are accepted on any connection of the inbound list, and on no other', () => {
    const table = new BindingTable<string>();
    table.bind(AB, 'in', 'c1', 'sasl');
    table.bind(AB, 'in', 'c2', 'dialback');
    assert.ok(table.accepts(AB, 'c1') && table.accepts(AB, 'c2'));
    assert.equal(table.accepts(AB, 'c3'), false);
    assert.equal(table.accepts(AC, 'c1'), false, 'another pair is not covered');
  });

  test('the directions are separate lists', () => {
    const table = new BindingTable<string>();
    table.bind(AB, 'in', 'c1', 'sasl');
    assert.equal(table.route(AB), undefined, 'bound inbound does not route outbound');
    table.bind(AB, 'out', 'c2', 'sasl');
    assert.equal(table.accepts(AB, 'c2'), false, 'bound outbound does not accept inbound');
    assert.ok(table.isBound(AB, 'out', 'c2') && !table.isBound(AB, 'in', 'c2'));
  });

  test('a connection lists its pairs with their proofs, in binding order', () => {
    const table = new BindingTable<string>();
    table.bind(AB, 'out', 'c1', 'sasl');
    table.bind(AC, 'out', 'c1', 'dialback');
    table.bind(AB, 'in', 'c1', 'certificate');
    assert.deepEqual(table.pairsOf('c1'), [
      { ...AB, direction: 'out', proof: 'sasl' },
      { ...AC, direction: 'out', proof: 'dialback' },
      { ...AB, direction: 'in', proof: 'certificate' },
    ]);
    assert.deepEqual(table.pairsOf('c1', 'in').map((pair) => pair.remote), ['b.example']);
    assert.deepEqual(table.pairsOf('c9'), []);
  });

  test('a closed connection leaves every list, and the others stay', () => {
    const table = new BindingTable<string>();
    table.bind(AB, 'out', 'c1', 'sasl');
    table.bind(AB, 'out', 'c2', 'sasl');
    table.bind(AC, 'in', 'c1', 'dialback');
    const removed = table.removeConnection('c1');
    assert.equal(removed.length, 2);
    assert.equal(table.route(AB), 'c2');
    assert.equal(table.accepts(AC, 'c1'), false);
    assert.deepEqual(table.pairsOf('c1'), []);
  });

  test('a bidi connection (XEP-0288) carries a pair both ways; closing it unbinds both, and a connection of our own takes over', () => {
    const table = new BindingTable<string>();
    // The peer opened 'bidi' and proved b.example; we send the reverse pair on it too.
    table.bind(AB, 'in', 'bidi', 'sasl');
    table.bind(AB, 'out', 'bidi', 'sasl');
    table.bind(AB, 'out', 'ours', 'sasl');
    assert.equal(table.route(AB), 'bidi', 'the first connection bound is used');
    assert.ok(table.accepts(AB, 'bidi'));
    assert.deepEqual(table.removeConnection('bidi').map((pair) => pair.direction), ['in', 'out']);
    assert.equal(table.route(AB), 'ours');
    assert.equal(table.accepts(AB, 'bidi'), false);
  });

  test('the rows list every pair with its connections in list order, each with its proof', () => {
    const table = new BindingTable<string>();
    table.bind(AB, 'out', 'c1', 'sasl');
    table.bind(AC, 'in', 'c2', 'posh');
    table.bind(AB, 'out', 'c2', 'dialback');
    table.bind(AB, 'in', 'c1', 'certificate');
    assert.deepEqual(table.rows(), [
      { ...AB, out: [{ connection: 'c1', proof: 'sasl' }, { connection: 'c2', proof: 'dialback' }], in: [{ connection: 'c1', proof: 'certificate' }] },
      { ...AC, out: [], in: [{ connection: 'c2', proof: 'posh' }] },
    ]);
    table.removeConnection('c1');
    assert.deepEqual(table.rows()[0], { ...AB, out: [{ connection: 'c2', proof: 'dialback' }], in: [] });
  });
});
