import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from './load.ts';
import { parseNextHop } from './peering.ts';

const withPeering = (peering: string, extra = '') => `data_dir: /x\ns2s:\n  peering:\n${peering}${extra}\nhosts: { example.com: {} }\n`;

/** The messages of a configuration that does not load, as "key path: message" lines. */
function problems(yaml: string, section = 's2s.'): string[] {
  try {
    parseConfig(yaml, { baseDir: '/' });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message.split('\n').filter((line) => line.startsWith(section));
  }
  return [];
}

describe('next hops', () => {
  const cases: [written: string, parsed: ReturnType<typeof parseNextHop> | RegExp][] = [
    ['edge.example', { kind: 'domain', domain: 'edge.example' }],
    ['Edge.Example', { kind: 'domain', domain: 'edge.example' }],
    ['192.0.2.7', { kind: 'domain', domain: '192.0.2.7' }],
    ['192.0.2.7:5270', { kind: 'address', host: '192.0.2.7', port: 5270 }],
    ['edge.example:5270', { kind: 'address', host: 'edge.example', port: 5270 }],
    ['[2001:db8::7]:5269', { kind: 'address', host: '2001:db8::7', port: 5269 }],
    ['2001:db8::7', { kind: 'domain', domain: '2001:db8::7' }],
    ['edge.example:0', /port/],
    ['edge.example:70000', /port/],
    ['[edge.example]:5269', /IPv6/],
    ['bad host!', /./],
  ];
  for (const [written, parsed] of cases) {
    test(written, () => {
      if (parsed instanceof RegExp) assert.throws(() => parseNextHop(written), parsed);
      else assert.deepEqual(parseNextHop(written), parsed);
    });
  }
});

describe('peering rules at load', () => {
  test('resolved in the order written, with what each sets', () => {
    const config = parseConfig(
      withPeering('    partner.example: { level: trusted, via: "edge.example:5270" }\n    lab.example: { subdomains: true, route: reject }\n    "*": { access: deny }\n'),
      { baseDir: '/' },
    );
    assert.deepEqual(config.s2s.peering, [
      { domain: 'partner.example', subdomains: false, level: 'trusted', via: { kind: 'address', host: 'edge.example', port: 5270 } },
      { domain: 'lab.example', subdomains: true, route: 'reject' },
      { domain: '*', subdomains: false, access: 'deny' },
    ]);
  });

  const refused: [name: string, peering: string, expected: string, extra?: string][] = [
    ['a next hop hosted here', '    partner.example: { via: example.com }\n', 's2s.peering["partner.example"].via: example.com is hosted here'],
    ['a next hop that is not one', '    partner.example: { via: "edge.example:99999" }\n', 's2s.peering["partner.example"].via: '],
    ['via with route: reject', '    partner.example: { via: edge.example, route: reject }\n', 's2s.peering["partner.example"].via: route: reject sends nothing anywhere'],
    ['a rule for a hosted domain never applies', '    example.com: { access: deny }\n', 's2s.peering["example.com"]: example.com is hosted here'],
    ['a rule that sets nothing', '    quiet.example: {}\n', 's2s.peering["quiet.example"]: the rule sets none of level, access, route, via, link, speaks_for, front or a check'],
    ['a group no s2s.peering_groups names', '    partner.example: { senders: ["group:staff"] }\n', 's2s.peering["partner.example"].senders[0]: no group "staff" in s2s.peering_groups'],
    ['a JID pattern that is a bare domain', '    partner.example: { recipients: [partner.example] }\n', 's2s.peering["partner.example"].recipients[0]: "partner.example" is not a valid JID pattern: write "*@partner.example"'],
    ['a JID pattern with a resource', '    partner.example: { deny_senders: ["a@example.com/r"] }\n', 's2s.peering["partner.example"].deny_senders[0]: "a@example.com/r" is not a valid JID pattern: a pattern names an account'],
    ['a group inside a group', '    partner.example: { senders: ["group:a"] }\n', 's2s.peering_groups["a"].members[0]: a group lists accounts', '  peering_groups: { a: { members: ["group:b"] }, b: { members: [x@example.com] } }\n'],
    ['an unknown block', '    partner.example: { block: [voice] }\n', 's2s.peering["partner.example"].block[0]: '],
    ['two rules setting the same check for the same subdomains', '    lab.example: { subdomains: true, block: [muc] }\n    "*.lab.example": { block: [encrypted] }\n', 's2s.peering["*.lab.example"].block: s2s.peering["lab.example"] (with subdomains) sets the block of the same subdomains'],
    ['subdomains on a pattern', '    "*.lab.example": { subdomains: true, route: direct }\n', 's2s.peering["*.lab.example"].subdomains: subdomains applies to a domain key'],
    ['a level on the default', '    "*": { level: trusted }\n', 's2s.peering["*"].level: the level of every other domain is s2s.min_level'],
    [
      'two rules deciding the same subdomains',
      '    lab.example: { subdomains: true, via: edge.example }\n    "*.lab.example": { route: reject }\n',
      's2s.peering["*.lab.example"].route: s2s.peering["lab.example"] (with subdomains) sets the route of the same subdomains',
    ],
    ['speaks_for on a pattern', '    "*.partner.example": { speaks_for: [partner.example] }\n', 's2s.peering["*.partner.example"].speaks_for: speaks_for names what one peer server speaks for'],
    ['speaks_for on a domain with its subdomains', '    partner.example: { subdomains: true, speaks_for: [other.example] }\n', 's2s.peering["partner.example"].speaks_for: speaks_for names what one peer server speaks for'],
    ['a peer speaking for a hosted domain', '    edge.example: { speaks_for: [partner.example, Example.COM] }\n', 's2s.peering["edge.example"].speaks_for[1]: example.com is hosted here: no peer speaks for it'],
    ['a speaks_for entry that is not a domain pattern', '    edge.example: { speaks_for: ["a b"] }\n', 's2s.peering["edge.example"].speaks_for[0]: '],
    [
      'a trunk reached through another trunk',
      '    a.example: { via: b.example, speaks_for: [x.example] }\n    b.example: { via: "192.0.2.1:5269", speaks_for: [y.example] }\n',
      's2s.peering["a.example"].via: a.example is a trunk (it has speaks_for) and its route leads through b.example, another trunk',
    ],
    ['front on a pattern', '    "*.inside.example": { via: "192.0.2.1:5269", front: true }\n', 's2s.peering["*.inside.example"].front: front names one domain this server answers for'],
    ['front on a domain with its subdomains', '    inside.example: { subdomains: true, via: "192.0.2.1:5269", front: true }\n', 's2s.peering["inside.example"].front: front names one domain'],
    ['front without a next hop', '    inside.example: { front: true }\n', 's2s.peering["inside.example"].front: a fronted domain\'s stanzas go on to its own server: give the rule a via'],
    ['front on a trunk', '    edge.example: { via: "192.0.2.1:5269", front: true, speaks_for: [x.example] }\n', 's2s.peering["edge.example"].front: a trunk (speaks_for) is a peer server of its own'],
    ['a next hop that is a fronted domain', '    inside.example: { via: "192.0.2.1:5269", front: true }\n    lab.example: { via: inside.example }\n', 's2s.peering["lab.example"].via: inside.example is fronted here'],
    ['a level in both places', '    partner.example: { level: trusted }\n', 's2s.peering["partner.example"].level: s2s.peers["partner.example"].level sets it too', '  peers: { partner.example: { level: verified } }\n'],
  ];
  for (const [name, peering, expected, extra] of refused) {
    test(`refused: ${name}`, () => {
      const found = problems(withPeering(peering, extra));
      assert.ok(found.some((line) => line.startsWith(expected)), `expected "${expected}" in:\n${found.join('\n')}`);
    });
  }

  test('checks are resolved as written, each only where set', () => {
    const config = parseConfig(
      withPeering('    partner.example: { require_tls: true, block: [file-transfer], fold_presence: away, senders: ["group:staff", "*@Example.COM"], refusal: drop }\n', '  peering_groups: { staff: { members: [alice@example.com] } }\n'),
      { baseDir: '/' },
    );
    assert.deepEqual(config.s2s.peering, [
      { domain: 'partner.example', subdomains: false, require_tls: true, block: ['file-transfer'], fold_presence: 'away', senders: ['group:staff', '*@example.com'], refusal: 'drop' },
    ]);
    assert.deepEqual(config.s2s.peering_groups, [{ name: 'staff', members: ['alice@example.com'] }]);
  });

  test('a trunk keeps what it speaks for, prepared; a route via a trunk from the default is no chain', () => {
    const config = parseConfig(withPeering('    centre.example: { via: "192.0.2.1:5269", speaks_for: ["*", "*.Partner.example"] }\n    "*": { via: centre.example }\n'), { baseDir: '/' });
    assert.deepEqual(config.s2s.peering[0], { domain: 'centre.example', subdomains: false, via: { kind: 'address', host: '192.0.2.1', port: 5269 }, speaks_for: ['*', '*.partner.example'] });
  });

  test('a fronted domain keeps front; a rule without it has none', () => {
    const config = parseConfig(withPeering('    inside.example: { via: "192.0.2.1:5269", front: true }\n    other.example: { via: "192.0.2.2:5269", front: false }\n'), { baseDir: '/' });
    assert.deepEqual(config.s2s.peering, [
      { domain: 'inside.example', subdomains: false, via: { kind: 'address', host: '192.0.2.1', port: 5269 }, front: true },
      { domain: 'other.example', subdomains: false, via: { kind: 'address', host: '192.0.2.2', port: 5269 } },
    ]);
  });

  test('rules that differ in what they set, or in specificity, are not an overlap', () => {
    assert.deepEqual(problems(withPeering('    lab.example: { subdomains: true, via: edge.example }\n    "*.lab.example": { level: trusted }\n    a.lab.example: { route: reject }\n')), []);
  });
});

describe('edge mode at load', () => {
  const edge = (rest: string) => `mode: edge\ndata_dir: /x\n${rest}\nhosts: { edge.example: {} }\n`;
  test('an edge with routes loads', () => {
    const config = parseConfig(edge('s2s: { peering: { inner.example: { via: "192.0.2.5:5269" } } }'), { baseDir: '/' });
    assert.equal(config.mode, 'edge');
  });
  const refused: [name: string, rest: string, expected: string][] = [
    ['an edge that routes nothing', 's2s: { peering: { "*": { access: allow } } }', 's2s.peering: an edge (mode: edge) relays only to the domains its rules route'],
    ['an edge without federation', 's2s: { enabled: false, peering: { a.example: { route: direct } } }', 's2s.enabled: an edge (mode: edge) only relays between servers'],
    ['an edge with a component', 's2s: { peering: { a.example: { route: direct } } }\ncomponents: { gw.edge.example: { secret: s } }', 'components: an edge (mode: edge) serves no components'],
  ];
  for (const [name, rest, expected] of refused) {
    test(`refused: ${name}`, () => {
      const found = problems(edge(rest), '');
      assert.ok(found.some((line) => line.startsWith(expected)), `expected "${expected}" in:\n${found.join('\n')}`);
    });
  }
});
