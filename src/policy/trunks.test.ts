import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.ts';
import { PolicySnapshot } from './snapshot.ts';
import type { Verdict } from './verdict.ts';

const CONFIG = parseConfig(
  `data_dir: /nonexistent
s2s:
  relay_hop_limit: 3
  peering:
    centre.example: { via: "192.0.2.1:5269", speaks_for: ["*"] }
    edge.partner.example: { via: "192.0.2.2:5269", speaks_for: [partner.example, "*.partner.example"] }
    partner.example: { subdomains: true, via: edge.partner.example }
    direct.example: { route: direct }
    closed.example: { route: reject }
    fronted.example: { via: front.example }
    "*": { via: centre.example }
hosts:
  example.com: {}
  other.example.com: {}
`,
  { baseDir: '/' },
);

const summary = (verdict: Verdict): string => `${verdict.kind}${verdict.kind === 'reject' ? ` ${verdict.condition}` : ''} @ ${verdict.rule}`;

describe('trunks: who speaks for whom', () => {
  const policy = new PolicySnapshot(CONFIG);
  const cases: [peer: string, from: string, expected: string][] = [
    ['edge.partner.example', 'partner.example', 'continue @ s2s.peering["edge.partner.example"].speaks_for[0]'],
    ['edge.partner.example', 'chat.partner.example', 'continue @ s2s.peering["edge.partner.example"].speaks_for[1]'],
    ['edge.partner.example', 'elsewhere.example', 'reject not-authorized @ s2s.peering["edge.partner.example"].speaks_for'],
    ['centre.example', 'anyone.example', 'continue @ s2s.peering["centre.example"].speaks_for[0]'],
    ['centre.example', 'other.example.com', 'reject not-authorized @ s2s.peering["centre.example"].speaks_for'],
    ['stranger.example', 'partner.example', 'reject not-authorized @ s2s.peering'],
  ];
  for (const [peer, from, expected] of cases) {
    test(`${peer} for ${from}: ${expected}`, () => assert.equal(summary(policy.speaksFor(peer, from)), expected));
  }
});

describe('trunks: which stream a stanza for a domain takes', () => {
  const policy = new PolicySnapshot(CONFIG);
  const cases: [remote: string, trunk: string | undefined][] = [
    ['partner.example', 'edge.partner.example'],
    ['chat.partner.example', 'edge.partner.example'],
    ['anywhere.example', 'centre.example'],
    // the trunk itself is reached by its own route, on a stream with it
    ['centre.example', undefined],
    ['direct.example', undefined],
    // a next hop that is not a trunk only says where the connection goes
    ['fronted.example', undefined],
  ];
  for (const [remote, trunk] of cases) test(`${remote}: ${trunk ?? 'its own stream'}`, () => assert.equal(policy.trunkFor(remote), trunk));
  test('the server relays as its first hosted domain', () => assert.equal(policy.relayDomain, 'example.com'));
});

describe('relaying between two remote domains', () => {
  const routed = new PolicySnapshot(CONFIG);
  const unrouted = new PolicySnapshot(parseConfig('data_dir: /x\ns2s: { peering: { a.example: { via: "192.0.2.9:5269" } } }\nhosts: { example.com: {} }\n', { baseDir: '/' }));
  const cases: [PolicySnapshot, from: string, to: string, expected: string][] = [
    [routed, 'partner.example', 'anywhere.example', 'continue @ s2s.peering["*"].via'],
    [routed, 'anywhere.example', 'direct.example', 'continue @ s2s.peering["direct.example"].route'],
    [routed, 'partner.example', 'closed.example', 'reject not-allowed @ s2s.peering["closed.example"].route'],
    [routed, 'closed.example', 'partner.example', 'reject not-allowed @ s2s.peering["closed.example"].route'],
    [unrouted, 'b.example', 'a.example', 'reject remote-server-not-found @ s2s.peering'],
    [unrouted, 'a.example', 'b.example', 'reject remote-server-not-found @ s2s.peering'],
  ];
  for (const [policy, from, to, expected] of cases) test(`${from} -> ${to}: ${expected}`, () => assert.equal(summary(policy.relay(from, to)), expected));
});

describe('the relay trace: loops and the hop limit', () => {
  const policy = new PolicySnapshot(CONFIG);
  const cases: [hops: string[], expected: string][] = [
    [[], 'continue @ s2s.peering["*"].via'],
    [['a.example', 'b.example'], 'continue @ s2s.peering["*"].via'],
    [['centre.example', 'example.com'], 'reject undefined-condition @ s2s.peering["*"].via'],
    [['centre.example', 'other.example.com', 'b.example'], 'reject undefined-condition @ s2s.peering["*"].via'],
    [['a.example', 'b.example', 'c.example'], 'reject undefined-condition @ s2s.relay_hop_limit'],
  ];
  for (const [hops, expected] of cases) {
    test(`[${hops.join(', ')}]: ${expected}`, () => {
      const verdict = policy.relayTrace(hops, 'x.example');
      assert.equal(summary(verdict), expected);
      if (verdict.kind === 'reject') assert.match(verdict.text, /^routing loop: /);
    });
  }
});
