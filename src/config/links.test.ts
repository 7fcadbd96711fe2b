import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from './load.ts';
import { PolicySnapshot } from '../policy/snapshot.ts';

const HOSTS = 'hosts: { a.example: {} }\n';
const LINK = `links:
  sat:
    connect: out
    address: "ground.example:5999"
    local_domains: [a.example, "*.a.example"]
    remote_domains: [b.example]
`;

function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml, { baseDir: '/' });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
    throw error;
  }
  return [];
}

describe('links', () => {
  test('a link resolves with its defaults, and a peering rule routes a domain over it', () => {
    const config = parseConfig(`${HOSTS}${LINK}s2s: { peering: { b.example: { link: sat } } }\n`, { baseDir: '/' });
    assert.deepEqual(config.links, [
      {
        name: 'sat',
        protocol: 'xep0361',
        transport: 'tcp',
        connect: 'out',
        address: 'ground.example:5999',
        peer_addresses: [],
        identity: 'address',
        local_domains: ['a.example', '*.a.example'],
        remote_domains: ['b.example'],
        keepalive: 60,
        reconnect_initial_delay: 2,
        reconnect_max_delay: 60,
        expiry: 86400,
        queue_max_messages: 1000,
        queue_max_bytes: 16777216,
        max_stanza_bytes: 65536,
        guard: { enabled: false, whitespace_keepalives: true },
      },
    ]);
    const verdict = new PolicySnapshot(config).route('b.example');
    assert.deepEqual(verdict, { kind: 'route', rule: 's2s.peering["b.example"].link', via: { kind: 'link', link: 'sat' }, text: 'b.example over the link sat' });
  });

  test('connect: both: the peer\'s address to connect to and a local one to listen on', () => {
    const config = parseConfig(`${HOSTS}${LINK.replace('connect: out', 'connect: both')}    listen: "10.0.0.1:5361"\n    peer_addresses: ["10.0.0.2"]\n`, { baseDir: '/' });
    assert.deepEqual([config.links[0]!.connect, config.links[0]!.address, config.links[0]!.listen], ['both', 'ground.example:5999', '10.0.0.1:5361']);
  });

  for (const [name, yaml, expected] of [
    ['a rule naming no configured link', `${HOSTS}${LINK}s2s: { peering: { c.example: { link: radio } } }\n`, 's2s.peering["c.example"].link: no link named "radio" is configured under links'],
    ['a link and a next hop on one rule', `${HOSTS}${LINK}s2s: { peering: { b.example: { link: sat, via: "relay.example" } } }\n`, 's2s.peering["b.example"].link: a route is one of route, via or link; keep one'],
    ['TLS transport without a certificate', `${HOSTS}${LINK}    transport: tls\n`, 'links["sat"].tls: transport: tls needs this side\'s certificate and key'],
    ['identity by certificate over TCP', `${HOSTS}${LINK}    identity: certificate\n`, 'links["sat"].identity: identity: certificate needs transport: tls and tls.peer_certificate or tls.ca_file'],
    ['a listener that cannot know its peer', `${HOSTS}${LINK.replace('connect: out', 'connect: in')}`, 'links["sat"].peer_addresses: with connect: in and identity: address, name the addresses the peer connects from (XEP-0361 section 4.2)'],
    ['connecting out to port 0', `${HOSTS}${LINK.replace(':5999', ':0')}`, 'links["sat"].address: connect: out needs the port the peer listens on'],
    ['connect: both without a listening address', `${HOSTS}${LINK.replace('connect: out', 'connect: both')}    peer_addresses: ["10.0.0.2"]\n`, 'links["sat"].listen: connect: both needs the local "address:port" the peer connects to'],
    ['connect: both that cannot know its peer', `${HOSTS}${LINK.replace('connect: out', 'connect: both')}    listen: "10.0.0.1:5361"\n`, 'links["sat"].peer_addresses: with connect: both and identity: address'],
    ['listen with connect: out', `${HOSTS}${LINK}    listen: "10.0.0.1:5361"\n`, 'links["sat"].listen: connect: out listens on address or not at all; listen is for connect: both'],
    ['a bad link name', `${HOSTS}links: { "Sat Link": { connect: out, address: "x.example:1", local_domains: [a.example], remote_domains: [b.example] } }\n`, 'links["Sat Link"]: "Sat Link" is not a valid link name'],
  ] as const) {
    test(`refused: ${name}`, () => {
      const problems = problemsOf(yaml);
      assert.ok(problems.some((problem) => problem.startsWith(expected)), problems.join('\n'));
    });
  }

  test('protocol: s2s resolves with its stream settings, connecting out, and refuses the keys of XEP-0361 links at their paths', () => {
    const s2sLink = `links:
  hq:
    protocol: s2s
    address: "192.0.2.10:5269"
    local_domains: [a.example]
    remote_domains: [b.example]
`;
    const config = parseConfig(`${HOSTS}${s2sLink}s2s: { peering: { b.example: { link: hq } } }\n`, { baseDir: '/' });
    assert.equal(config.links[0]!.connect, 'out');
    assert.deepEqual(config.links[0]!.s2s, { tls: 'required', direct_tls: false, authentication: 'any', connect_timeout: 10, negotiation_timeout: 30 });
    assert.deepEqual(problemsOf(`${HOSTS}${s2sLink}    transport: tls\n    guard: { enabled: true }\n    expiry: 60\n`), [
      'links["hq"].transport: is for protocol: xep0361, not protocol: s2s',
      'links["hq"].expiry: is for protocol: xep0361, not protocol: s2s',
      'links["hq"].guard: is for protocol: xep0361, not protocol: s2s',
    ]);
    assert.deepEqual(problemsOf(`${HOSTS}${s2sLink}    connect: in\n`), [
      'links["hq"].connect: an s2s link connects out to address; the peer\'s streams arrive at this server\'s s2s listener (listeners.s2s)',
    ]);
    assert.deepEqual(problemsOf(`${HOSTS}${LINK}    s2s: { tls: optional }\n`), ['links["sat"].s2s: is for protocol: s2s, not protocol: xep0361']);
    assert.deepEqual(problemsOf(`${HOSTS}${s2sLink}    s2s: { tls: optional, authentication: sasl_external }\n`), ['links["hq"].s2s.tls: authentication: sasl_external needs TLS: write tls: required']);
    assert.deepEqual(problemsOf(`${HOSTS}${s2sLink}s2s: { enabled: false }\n`), ['links["hq"].protocol: an s2s link uses server-to-server streams: s2s.enabled must be true (s2s.peering may reject every other domain)']);
    assert.deepEqual(problemsOf(`${HOSTS}links:\n  x:\n    address: "192.0.2.1:5361"\n    local_domains: [a.example]\n    remote_domains: [b.example]\n`), ['links["x"].connect: required key is missing']);
  });
});
