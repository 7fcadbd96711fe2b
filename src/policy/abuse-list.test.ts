import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbuseList, canonicalBan, describeBlock } from './abuse-list.ts';
import { addressKey } from './address-key.ts';

test('address keys: IPv4 exact, IPv6 by /64, IPv4-mapped as IPv4', () => {
  assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2:bbbb::9'), '2001:db8:1:2::/64');
  assert.notEqual(addressKey('2001:db8:1:3::1'), addressKey('2001:db8:1:2::1'));
});

test('bans are written canonically; a wrong one is refused with the reason', () => {
  assert.equal(canonicalBan('192.0.2.7'), '192.0.2.7');
  assert.equal(canonicalBan('192.0.2.7/32'), '192.0.2.7');
  assert.equal(canonicalBan('10.0.0.0/8'), '10.0.0.0/8');
  assert.equal(canonicalBan('2001:DB8::/32'), '2001:db8::/32');
  assert.equal(canonicalBan('::ffff:192.0.2.0/120'), '192.0.2.0/24');
  assert.throws(() => canonicalBan('10.1.0.0/8'), /beyond the \/8 prefix/);
  assert.throws(() => canonicalBan('example.com'), /expected an IPv4 or IPv6 address/);
});

test('a ban covers the addresses of its range; a block names its domain and origin', () => {
  const list = new AbuseList();
  list.addBan({ address: '10.0.0.0/8', reason: 'spam', createdAt: 1 });
  assert.equal(list.banFor('10.1.2.3')?.address, '10.0.0.0/8');
  assert.equal(list.banFor('::ffff:10.1.2.3')?.address, '10.0.0.0/8');
  assert.equal(list.banFor('11.0.0.1'), undefined);
  assert.ok(list.removeBan('10.0.0.0/8'));
  assert.equal(list.banFor('10.1.2.3'), undefined);
  list.addBlock({ domain: 'spam.example', reason: undefined, createdAt: Date.UTC(2026, 0, 1) });
  assert.equal(describeBlock(list.blockFor('SPAM.example')!), 'spam.example blocked by trellis s2s block at 2026-01-01T00:00:00.000Z');
  assert.equal(list.blockFor('other.example'), undefined);
});
