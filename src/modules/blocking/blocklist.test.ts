import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJid } from '../../jid/jid.ts';
import { Blocklist } from './blocklist.ts';

const list = (...entries: string[]) => new Blocklist(entries.map((entry) => parseJid(entry).toString()));
const matches = (blocklist: Blocklist, address: string) => blocklist.matches(parseJid(address));

describe('block list matching (XEP-0191, JID Matching)', () => {
  test('a full JID matches only that resource', () => {
    const blocklist = list('romeo@example.net/orchard');
    assert.ok(matches(blocklist, 'romeo@example.net/orchard'));
    assert.ok(!matches(blocklist, 'romeo@example.net/balcony'));
    assert.ok(!matches(blocklist, 'romeo@example.net'));
  });

  test('a bare JID matches it and every resource', () => {
    const blocklist = list('Romeo@Example.NET');
    assert.ok(matches(blocklist, 'romeo@example.net'));
    assert.ok(matches(blocklist, 'romeo@example.net/any'));
    assert.ok(!matches(blocklist, 'juliet@example.net'));
    assert.ok(!matches(blocklist, 'example.net'));
  });

  test('domain/resource matches that resource at the domain, as XEP-0016 derives it from the sender', () => {
    const blocklist = list('example.net/bot');
    assert.ok(matches(blocklist, 'example.net/bot'));
    assert.ok(matches(blocklist, 'user@example.net/bot'));
    assert.ok(!matches(blocklist, 'example.net'));
    assert.ok(!matches(blocklist, 'user@example.net/phone'));
  });

  test('a domain matches itself, its users, their resources and subdomains', () => {
    const blocklist = list('example.net');
    for (const address of ['example.net', 'a@example.net', 'a@example.net/r', 'example.net/r', 'muc.example.net', 'room@muc.example.net/nick']) {
      assert.ok(matches(blocklist, address), address);
    }
    for (const address of ['example.org', 'a@notexample.net', 'net']) assert.ok(!matches(blocklist, address), address);
  });

  test('an empty list matches nothing', () => {
    assert.ok(!matches(Blocklist.EMPTY, 'a@b'));
  });
});

describe('block list changes and stored form', () => {
  test('adds without duplicates, removes, and round-trips through JSON', () => {
    const blocklist = list('a@x').with([parseJid('b@x'), parseJid('a@x')]).without([parseJid('c@x')]);
    assert.deepEqual(blocklist.entries, ['a@x', 'b@x']);
    assert.deepEqual(Blocklist.parse(blocklist.serialize()).entries, ['a@x', 'b@x']);
    assert.deepEqual(blocklist.without([parseJid('a@x')]).entries, ['b@x']);
  });

  test('reading skips invalid entries and refuses a damaged document', () => {
    assert.deepEqual(Blocklist.parse(undefined).entries, []);
    assert.deepEqual(Blocklist.parse('["ok@x", 5, "@bad", "B@X"]').entries, ['ok@x', 'b@x']);
    assert.throws(() => Blocklist.parse('{"a":1}'));
  });
});
