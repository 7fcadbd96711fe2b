import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.ts';
import { parseElement } from '../xml/parse-element.ts';
import { AbuseList } from './abuse-list.ts';
import { LivePolicy, PolicySnapshot, type PairFacts, type PeerFacts } from './snapshot.ts';
import type { Verdict } from './verdict.ts';

const CONFIG = parseConfig(
  `data_dir: /nonexistent
s2s:
  min_level: encrypted
  peers:
    "*.lab.example": { level: permissive }
    bank.example: { level: trusted }
  access:
    deny_domains: [spam.example, "*.spam.example"]
    deny_addresses: [203.0.113.0/24]
foreign_access: { deny: [file-transfer] }
hosts:
  example.com: {}
  strict.example.com: { foreign_access: { default: deny, allow: [chat] } }
`,
  { baseDir: '/' },
);

/** The parts of a verdict a table states: kind, rule, and the condition when refused. */
function summary(verdict: Verdict): string {
  const condition = verdict.kind === 'reject' || verdict.kind === 'close' ? ` ${verdict.condition}` : '';
  return `${verdict.kind}${condition} @ ${verdict.rule}`;
}

describe('policy snapshot verdicts', () => {
  const abuse = new AbuseList();
  abuse.addBlock({ domain: 'blocked.example', reason: undefined, createdAt: 0 });
  const policy = new PolicySnapshot(CONFIG, abuse);

  const connections: [PeerFacts, string][] = [
    [{ domain: 'friend.example', address: '192.0.2.1', direction: 'in' }, 'continue @ s2s.access'],
    [{ domain: 'muc.spam.example', direction: 'in' }, 'close policy-violation @ s2s.access.deny_domains[1]'],
    [{ address: '203.0.113.9', direction: 'out' }, 'close policy-violation @ s2s.access.deny_addresses[0]'],
    [{ domain: 'blocked.example', direction: 'out' }, 'close policy-violation @ trellis s2s block'],
  ];
  for (const [facts, expected] of connections) {
    test(`connection ${facts.domain ?? ''} ${facts.address ?? ''}: ${expected}`, () => assert.equal(summary(policy.connection(facts)), expected));
  }

  const pairs: [PairFacts, string][] = [
    [{ local: 'example.com', remote: 'friend.example' }, 'continue @ s2s.access'],
    [{ local: 'example.com', remote: 'friend.example', reached: 'encrypted' }, 'continue @ s2s.min_level'],
    [{ local: 'example.com', remote: 'friend.example', reached: 'verified' }, 'reject policy-violation @ s2s.min_level'],
    [{ local: 'example.com', remote: 'bank.example', reached: 'encrypted' }, 'reject policy-violation @ s2s.peers["bank.example"].level'],
    [{ local: 'example.com', remote: 'bank.example', reached: 'trusted' }, 'continue @ s2s.peers["bank.example"].level'],
    [{ local: 'example.com', remote: 'a.lab.example', reached: 'permissive' }, 'continue @ s2s.peers["*.lab.example"].level'],
    [{ local: 'example.com', remote: 'spam.example', reached: 'trusted' }, 'reject policy-violation @ s2s.access.deny_domains[0]'],
    [{ local: 'example.com', remote: 'friend.example', address: '203.0.113.1', reached: 'trusted' }, 'reject policy-violation @ s2s.access.deny_addresses[0]'],
  ];
  for (const [facts, expected] of pairs) {
    test(`pair ${facts.remote} at ${facts.reached ?? '(not yet proven)'}: ${expected}`, () => assert.equal(summary(policy.authenticate(facts)), expected));
  }

  test('a refused level says what was reached and what the rule requires', () => {
    const verdict = policy.authenticate({ local: 'example.com', remote: 'bank.example', reached: 'encrypted' });
    assert.equal(verdict.text, 'bank.example reached encrypted where s2s.peers["bank.example"].level requires trusted');
  });

  const ftOffer = "<iq xmlns='jabber:client' type='set' id='1' from='x@remote.example/r' to='u@example.com/r'><si xmlns='http://jabber.org/protocol/si'/></iq>";
  const chat = "<message xmlns='jabber:client' type='chat' from='x@remote.example/r' to='u@example.com'><body>hi</body></message>";
  const stanzas: [xml: string, host: string, expected: string][] = [
    [ftOffer, 'example.com', 'reject service-unavailable @ foreign_access.deny[0]'],
    [chat, 'example.com', 'continue @ foreign_access.default'],
    [chat, 'strict.example.com', 'continue @ hosts["strict.example.com"].foreign_access.allow[0]'],
    [ftOffer, 'strict.example.com', 'reject service-unavailable @ foreign_access.deny[0]'],
    [ftOffer, 'unknown.example.com', 'reject service-unavailable @ foreign_access.deny[0]'],
  ];
  for (const [xml, host, expected] of stanzas) {
    test(`stanza in to ${host}: ${expected}`, () => assert.equal(summary(policy.stanzaIn(parseElement(xml), host)), expected));
  }

  const outbound: [string, string][] = [
    ['friend.example', 'continue @ s2s.access'],
    ['x.spam.example', 'reject not-allowed @ s2s.access.deny_domains[1]'],
    ['blocked.example', 'reject not-allowed @ trellis s2s block'],
  ];
  for (const [remote, expected] of outbound) test(`stanza out to ${remote}: ${expected}`, () => assert.equal(summary(policy.stanzaOut(remote)), expected));

  test('the route of a remote domain: its own servers by DNS', () => {
    const way = policy.route('friend.example');
    assert.deepEqual(way.kind === 'route' ? way.via : way, { kind: 'direct' });
  });
});

test('a live policy answers with the snapshot swapped in last', () => {
  const live = new LivePolicy(new PolicySnapshot(CONFIG));
  assert.equal(live.current.connection({ domain: 'other.example', direction: 'in' }).kind, 'continue');
  const closed = parseConfig('data_dir: /nonexistent\ns2s: { access: { allow_domains: [friend.example] } }\nhosts: { example.com: {} }\n', { baseDir: '/' });
  live.replace(new PolicySnapshot(closed));
  assert.equal(summary(live.current.connection({ domain: 'other.example', direction: 'in' })), 'close policy-violation @ s2s.access.allow_domains');
  assert.equal(summary(live.current.connection({ domain: 'friend.example', direction: 'in' })), 'continue @ s2s.access.allow_domains[0]');
});

describe('peering rules in the snapshot', () => {
  const policy = new PolicySnapshot(
    parseConfig(
      `data_dir: /nonexistent
s2s:
  peers: { "*.old.example": { level: verified } }
  access: { deny_domains: [bad.partner.example] }
  peering:
    partner.example: { subdomains: true, level: trusted, access: allow }
    edge.partner.example: { via: "192.0.2.9:5270" }
    "*.partner.example": { via: gateway.example }
    closed.example: { subdomains: true, route: reject }
    "*": { access: deny }
hosts: { example.com: {} }
`,
      { baseDir: '/' },
    ),
  );
  const routes: [remote: string, expected: string, via?: object][] = [
    ['partner.example', 'route @ s2s.peering', { kind: 'direct' }],
    ['chat.partner.example', 'route @ s2s.peering["*.partner.example"].via', { kind: 'domain', domain: 'gateway.example' }],
    ['edge.partner.example', 'route @ s2s.peering["edge.partner.example"].via', { kind: 'address', host: '192.0.2.9', port: 5270 }],
    ['closed.example', 'reject not-allowed @ s2s.peering["closed.example"].route'],
    ['a.b.closed.example', 'reject not-allowed @ s2s.peering["closed.example"].route'],
  ];
  for (const [remote, expected, via] of routes) {
    test(`route of ${remote}: ${expected}`, () => {
      const way = policy.route(remote);
      assert.equal(summary(way), expected);
      if (via) assert.deepEqual(way.kind === 'route' ? way.via : undefined, via);
    });
  }

  const access: [remote: string, expected: string][] = [
    ['partner.example', 'continue @ s2s.peering["partner.example"].access'],
    ['muc.partner.example', 'continue @ s2s.peering["partner.example"].access'],
    ['bad.partner.example', 'close policy-violation @ s2s.access.deny_domains[0]'],
    ['stranger.example', 'close policy-violation @ s2s.peering["*"].access'],
  ];
  for (const [remote, expected] of access) {
    test(`connection from ${remote}: ${expected}`, () => assert.equal(summary(policy.connection({ domain: remote, direction: 'in' })), expected));
  }

  test('levels: the peering rule with subdomains, and s2s.peers keys, by specificity', () => {
    assert.deepEqual(policy.requirement('muc.partner.example').rule, 's2s.peering["partner.example"].level');
    assert.deepEqual(policy.requirement('x.old.example').rule, 's2s.peers["*.old.example"].level');
    assert.deepEqual(policy.requirement('other.example').rule, 's2s.min_level');
  });
});
