/** docs/policy.md cannot drift: its examples are parsed and their stated effects checked. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../config/load.ts';
import type { HostConfig, TrellisConfig } from '../config/types.ts';
import { parseElement } from '../xml/parse-element.ts';
import { PolicySnapshot } from './snapshot.ts';
import { FEATURE_GROUP_NAMES } from './foreign-groups.ts';

const DOC = readFileSync(new URL('../../docs/policy.md', import.meta.url), 'utf8');

/** The YAML blocks of the page, by the name in their first line (`# example: name`). */
const examples = new Map(
  [...DOC.matchAll(/```yaml\n# example: ([\w-]+)\n([\s\S]*?)```/g)].map((match) => [match[1]!, parseConfig(match[2]!, { baseDir: '/srv/trellis' })]),
);

function example(name: string): TrellisConfig {
  const config = examples.get(name);
  assert.ok(config, `docs/policy.md has no example named ${name}`);
  return config;
}

function host(config: TrellisConfig, domain: string): HostConfig {
  return config.hosts.find((candidate) => candidate.domain === domain)!;
}

const fromRemote = (xml: string) => parseElement(xml.replace(/^<(message|presence|iq)/, "<$1 xmlns='jabber:client' from='x@remote.example/r' to='u@example.com'"));
const STANZAS = {
  chat: "<message type='chat'><body>hi</body></message>",
  groupchat: "<message type='groupchat'><body>hi</body></message>",
  siOffer: "<iq type='set' id='1'><si xmlns='http://jabber.org/protocol/si' profile='http://jabber.org/protocol/si/profile/file-transfer'/></iq>",
  ibbOpen: "<iq type='set' id='2'><open xmlns='http://jabber.org/protocol/ibb' sid='s' block-size='4096'/></iq>",
  ping: "<iq type='get' id='3'><ping xmlns='urn:xmpp:ping'/></iq>",
  version: "<iq type='get' id='4'><query xmlns='jabber:iq:version'/></iq>",
  presence: '<presence/>',
};

/** What a host of the example answers a stanza from another server, through the compiled policy. */
function decide(config: TrellisConfig, domain: string, which: keyof typeof STANZAS): string {
  const verdict = new PolicySnapshot(config).stanzaIn(fromRemote(STANZAS[which]), domain);
  return verdict.kind === 'reject' ? verdict.condition : 'accepted';
}

test('every YAML block of docs/policy.md is a named example that parses', () => {
  const blocks = DOC.match(/```yaml\n/g)?.length ?? 0;
  assert.equal(examples.size, blocks);
  assert.deepEqual([...examples.keys()], ['block-list', 'closed-federation', 'foreign-access']);
});

test('block-list example: denied domains, subdomains and ranges, IPv4-mapped peers included', () => {
  const policy = new PolicySnapshot(example('block-list'));
  const allowed = (domain?: string, address?: string) => policy.connection({ domain, address, direction: 'in' }).kind === 'continue';
  assert.equal(allowed('spam.example'), false);
  assert.equal(allowed('muc.spam.example'), false);
  assert.equal(allowed(undefined, '::ffff:203.0.113.9'), false);
  assert.equal(allowed(undefined, '2001:db8:bad:1::1'), false);
  assert.equal(allowed('partner.example', '192.0.2.1'), true);
});

test('closed-federation example: only the partner, only from its addresses', () => {
  const config = example('closed-federation');
  assert.equal(config.s2s.min_level, 'trusted');
  const policy = new PolicySnapshot(config);
  const verdict = (domain: string, address?: string) => {
    const { kind, rule, text } = policy.connection({ domain, address, direction: 'out' });
    return { kind, rule, text };
  };
  assert.deepEqual(verdict('partner.example', '198.51.100.7'), { kind: 'continue', rule: 's2s.access.allow_addresses[0]', text: 'partner.example may federate' });
  assert.deepEqual(verdict('chat.partner.example', '2001:db8:5::1').rule, 's2s.access.allow_addresses[1]');
  assert.deepEqual(verdict('other.example'), { kind: 'close', rule: 's2s.access.allow_domains', text: 'other.example is not in s2s.access.allow_domains' });
  assert.deepEqual(verdict('partner.example', '192.0.2.1'), { kind: 'close', rule: 's2s.access.allow_addresses', text: '192.0.2.1 is not in s2s.access.allow_addresses' });
  assert.deepEqual(policy.requirement('partner.example'), { level: 'trusted', rule: 's2s.min_level', demands: { tls: true, authentication: true, trustedCertificate: true } });
});

test('foreign-access example: what each host accepts from other servers, as the page says', () => {
  const config = example('foreign-access');
  assert.equal(decide(config, 'example.com', 'chat'), 'accepted');
  assert.equal(decide(config, 'example.com', 'siOffer'), 'service-unavailable');
  assert.equal(decide(config, 'example.com', 'groupchat'), 'not-allowed');
  assert.equal(decide(config, 'example.com', 'ibbOpen'), 'accepted', 'the namespace allow beats the group deny');
  const lab = host(config, 'lab.example.com').foreign_access;
  assert.deepEqual(lab, { default: 'deny', deny: ['file-transfer', 'groupchat'], allow: ['chat', 'presence', 'urn:xmpp:ping'] });
  assert.equal(decide(config, 'lab.example.com', 'chat'), 'accepted');
  assert.equal(decide(config, 'lab.example.com', 'presence'), 'accepted');
  assert.equal(decide(config, 'lab.example.com', 'ping'), 'accepted');
  assert.equal(decide(config, 'lab.example.com', 'version'), 'service-unavailable');
  assert.equal(decide(config, 'lab.example.com', 'ibbOpen'), 'service-unavailable', 'the inherited deny applies and the top-level allow is replaced');
});

test('every feature group is documented', () => {
  for (const group of FEATURE_GROUP_NAMES) assert.match(DOC, new RegExp(`^\\| \`${group}\` \\|`, 'm'), group);
});
