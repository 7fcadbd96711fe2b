import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { S2sAccessConfig } from '../config/types.ts';
import { PeerAccess, type PeerQuery } from './peer-access.ts';

const NONE: S2sAccessConfig = { deny_domains: [], allow_domains: [], deny_addresses: [], allow_addresses: [] };

interface Case {
  name: string;
  access: Partial<S2sAccessConfig>;
  query: PeerQuery;
  /** undefined: allowed; otherwise the reason */
  refused?: string;
}

const cases: Case[] = [
  { name: 'no lists: everyone', access: {}, query: { domain: 'example.net', address: '192.0.2.1' } },
  { name: 'exact domain denied', access: { deny_domains: ['spam.example'] }, query: { domain: 'spam.example' }, refused: 's2s.access.deny_domains[0] (spam.example) denies spam.example' },
  { name: 'domains compare without case', access: { deny_domains: ['spam.example'] }, query: { domain: 'SPAM.Example' }, refused: 's2s.access.deny_domains[0] (spam.example) denies spam.example' },
  { name: 'an exact rule does not cover subdomains', access: { deny_domains: ['spam.example'] }, query: { domain: 'chat.spam.example' } },
  { name: 'a wildcard covers subdomains at any depth', access: { deny_domains: ['a.example', '*.spam.example'] }, query: { domain: 'x.muc.spam.example' }, refused: 's2s.access.deny_domains[1] (*.spam.example) denies x.muc.spam.example' },
  { name: 'a wildcard does not cover the bare domain', access: { deny_domains: ['*.spam.example'] }, query: { domain: 'spam.example' } },
  { name: 'a wildcard does not cover a longer label', access: { deny_domains: ['*.spam.example'] }, query: { domain: 'notspam.example' } },
  { name: 'allow list admits what it names', access: { allow_domains: ['partner.example', '*.partner.example'] }, query: { domain: 'muc.partner.example' } },
  { name: 'allow list refuses the rest', access: { allow_domains: ['partner.example'] }, query: { domain: 'other.example' }, refused: 'other.example is not in s2s.access.allow_domains' },
  { name: 'deny wins over allow for domains', access: { allow_domains: ['*.partner.example'], deny_domains: ['bad.partner.example'] }, query: { domain: 'bad.partner.example' }, refused: 's2s.access.deny_domains[0] (bad.partner.example) denies bad.partner.example' },
  { name: 'an unknown domain is not judged by domain lists', access: { allow_domains: ['partner.example'] }, query: { address: '192.0.2.1' } },
  { name: 'IPv4 range denied', access: { deny_addresses: ['10.0.0.0/8'] }, query: { address: '10.20.30.40' }, refused: 's2s.access.deny_addresses[0] (10.0.0.0/8) denies 10.20.30.40' },
  { name: 'IPv4 range matches an IPv4-mapped peer', access: { deny_addresses: ['10.0.0.0/8'] }, query: { address: '::ffff:10.20.30.40' }, refused: 's2s.access.deny_addresses[0] (10.0.0.0/8) denies ::ffff:10.20.30.40' },
  { name: 'IPv4 rule does not match outside', access: { deny_addresses: ['10.0.0.0/8'] }, query: { address: '11.0.0.1' } },
  { name: 'IPv6 range denied', access: { deny_addresses: ['192.0.2.0/24', '2001:db8::/32'] }, query: { address: '2001:db8:1::5' }, refused: 's2s.access.deny_addresses[1] (2001:db8::/32) denies 2001:db8:1::5' },
  { name: 'an IPv6 rule does not match IPv4 peers', access: { deny_addresses: ['::/0'] }, query: { address: '::ffff:192.0.2.1' } },
  { name: 'single address rule', access: { deny_addresses: ['192.0.2.9'] }, query: { address: '192.0.2.9' }, refused: 's2s.access.deny_addresses[0] (192.0.2.9) denies 192.0.2.9' },
  { name: 'address allow list admits', access: { allow_addresses: ['192.0.2.0/24', '2001:db8::/32'] }, query: { address: '2001:db8::7' } },
  { name: 'address allow list refuses the rest', access: { allow_addresses: ['192.0.2.0/24'] }, query: { address: '198.51.100.1' }, refused: '198.51.100.1 is not in s2s.access.allow_addresses' },
  { name: 'an unparseable address is outside every allow list', access: { allow_addresses: ['0.0.0.0/0'] }, query: { address: 'garbage' }, refused: 'garbage is not in s2s.access.allow_addresses' },
  { name: 'deny wins over allow for addresses', access: { allow_addresses: ['10.0.0.0/8'], deny_addresses: ['10.6.0.0/16'] }, query: { address: '10.6.1.1' }, refused: 's2s.access.deny_addresses[0] (10.6.0.0/16) denies 10.6.1.1' },
  { name: 'an address deny beats a domain allow', access: { allow_domains: ['partner.example'], deny_addresses: ['192.0.2.0/24'] }, query: { domain: 'partner.example', address: '192.0.2.3' }, refused: 's2s.access.deny_addresses[0] (192.0.2.0/24) denies 192.0.2.3' },
  { name: 'both allow lists must admit', access: { allow_domains: ['partner.example'], allow_addresses: ['192.0.2.0/24'] }, query: { domain: 'partner.example', address: '198.51.100.1' }, refused: '198.51.100.1 is not in s2s.access.allow_addresses' },
  { name: 'both allow lists admitting', access: { allow_domains: ['partner.example'], allow_addresses: ['192.0.2.0/24'] }, query: { domain: 'partner.example', address: '192.0.2.1' } },
];

describe('peer allow and deny lists', () => {
  for (const { name, access, query, refused } of cases) {
    test(name, () => {
      const decision = new PeerAccess({ ...NONE, ...access }).check(query);
      if (refused === undefined) return assert.equal(decision.allowed, true);
      assert.deepEqual(decision.allowed ? undefined : decision.reason, refused);
      // The rule is the key path the reason starts with, or the allow list that did not admit.
      const rule = /^(s2s\.access\.\w+\[\d+\])/.exec(refused)?.[1] ?? /in (s2s\.access\.\w+)$/.exec(refused)![1];
      assert.equal(decision.rule, rule);
    });
  }

  test('what admits a peer is named: the allow entry that matched, else the lists as a whole', () => {
    const access = new PeerAccess({ ...NONE, allow_domains: ['partner.example', '*.partner.example'], allow_addresses: ['192.0.2.0/24'] });
    assert.deepEqual(access.check({ domain: 'muc.partner.example' }), { allowed: true, rule: 's2s.access.allow_domains[1]' });
    assert.deepEqual(access.check({ domain: 'partner.example', address: '192.0.2.8' }), { allowed: true, rule: 's2s.access.allow_addresses[0]' });
    assert.deepEqual(new PeerAccess(NONE).check({ domain: 'any.example' }), { allowed: true, rule: 's2s.access' });
  });

  test('an invalid address entry cannot be compiled', () => {
    assert.throws(() => new PeerAccess({ ...NONE, deny_addresses: ['10.0.0.0/40'] }), /prefix length/);
  });
});
