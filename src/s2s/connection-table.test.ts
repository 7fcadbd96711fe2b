import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionTable, type Direction } from './connection-table.ts';

/** A table with one connection, c1. */
function withConnection(direction: Direction): ConnectionTable {
  const table = new ConnectionTable();
  table.add('c1', direction);
  return table;
}

describe('the connection table', () => {
  test('a new row has the direction and has proved nothing', () => {
    const table = new ConnectionTable();
    const row = table.add('c1', 'in');
    assert.deepEqual([row.direction, row.serverNames.size, row.delegatedNames.size, row.bidi], ['in', 0, 0, false]);
    assert.equal(table.proves('c1', 'a.example'), false);
  });

  test('names proven by certificate and by other means are kept apart; both prove', () => {
    const table = withConnection('out');
    table.certified('c1', 'a.example');
    table.proved('c1', 'b.example');
    const row = table.get('c1')!;
    assert.deepEqual([[...row.serverNames], [...row.delegatedNames]], [['a.example'], ['b.example']]);
    assert.ok(table.proves('c1', 'a.example') && table.proves('c1', 'b.example'));
    assert.equal(table.proves('c1', 'c.example'), false);
  });

  test('a name the certificate proves is not also recorded as proven otherwise', () => {
    const table = withConnection('in');
    table.certified('c1', 'a.example');
    table.proved('c1', 'a.example');
    assert.equal(table.get('c1')!.delegatedNames.size, 0);
  });

  test('rows are per connection, and a deleted connection proves nothing', () => {
    const table = withConnection('in');
    table.add('c2', 'out');
    table.certified('c1', 'a.example');
    assert.equal(table.proves('c2', 'a.example'), false);
    table.delete('c1');
    assert.deepEqual([table.get('c1'), table.proves('c1', 'a.example'), table.get('c2')?.direction], [undefined, false, 'out']);
    table.certified('c1', 'a.example');
    assert.equal(table.get('c1'), undefined, 'a gone connection gets no row back');
  });
});
