/** docs/peering.md cannot drift: its example loads, does what the page says, and explains as shown. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.ts';
import { parseJid } from '../jid/jid.ts';
import { NS_CLIENT } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { explain, formatExplanation } from './explain.ts';
import { PolicySnapshot } from './snapshot.ts';

const DOC = readFileSync(new URL('../../docs/peering.md', import.meta.url), 'utf8');
const EXAMPLE = /```yaml\n# example: edge\n([\s\S]*?)```/.exec(DOC)![1]!;
const config = parseConfig(EXAMPLE, { baseDir: '/srv/trellis' });
const policy = new PolicySnapshot(config);
const hosted = (domain: string) => config.hosts.some((host) => host.domain === domain);

test('the edge example: routes, levels and access as the page says', () => {
  const via = (remote: string) => {
    const way = policy.route(remote);
    return way.kind === 'route' ? way.via : way.kind;
  };
  assert.deepEqual(via('partner.example'), { kind: 'address', host: '198.51.100.20', port: 5269 });
  assert.deepEqual(via('chat.partner.example'), { kind: 'address', host: '198.51.100.20', port: 5269 });
  assert.deepEqual(via('x.lab.example'), { kind: 'domain', domain: 'gateway.example' });
  assert.deepEqual(via('lab.example'), { kind: 'direct' });
  assert.equal(via('a.closed.example'), 'reject');
  assert.equal(policy.requirement('chat.partner.example').level, 'trusted');
  assert.equal(policy.connection({ domain: 'spam.example', direction: 'in' }).kind, 'close');
  assert.equal(policy.connection({ domain: 'muc.spam.example', direction: 'in' }).kind, 'continue', 'an exact rule covers the domain only');
});

test('the trunk-sizing example loads with the rate and the output budget it shows', () => {
  const sized = parseConfig(/```yaml\n# example: trunk-sizing\n([\s\S]*?)```/.exec(DOC)![1]!, { baseDir: '/srv/trellis' });
  assert.deepEqual(sized.s2s.rate, { bytes_per_second: 8 * 1024 * 1024, burst_bytes: 32 * 1024 * 1024, stanzas_per_second: 10_000, burst_stanzas: 50_000 });
  assert.deepEqual(sized.s2s.output, { connection_buffer: 16 * 1024 * 1024, total_buffer: 128 * 1024 * 1024 });
  assert.ok(sized.s2s.output.connection_buffer > parseConfig('hosts: { example.com: {} }', { baseDir: '/srv/trellis' }).s2s.output.connection_buffer, 'more than the default');
});

test('the explain output on the page is what the command prints', () => {
  const shown = /\$ trellis policy explain --from alice@example.com --to chat.partner.example\n([\s\S]*?)```/.exec(DOC)![1]!;
  assert.equal(formatExplanation(explain(policy, hosted, 'alice@example.com', 'chat.partner.example')), shown);
});

test('explain: incoming, and neither or both domains hosted', () => {
  const incoming = explain(policy, hosted, 'x@spam.example', 'example.com');
  assert.equal(incoming.direction, 'in');
  assert.deepEqual(incoming.direction === 'in' && incoming.steps.map((step) => `${step.question} ${step.rule}`), [
    'connection s2s.peering["spam.example"].access',
    'level s2s.min_level',
    'pair s2s.peering["spam.example"].access',
  ]);
  assert.equal(explain(policy, hosted, 'a.example', 'b.example').direction, 'none');
  assert.equal(explain(policy, hosted, 'alice@example.com', 'example.com').direction, 'none');
});

test('the checks example: each check from its most specific rule, and explain --stanza as shown', () => {
  const checksConfig = parseConfig(/```yaml\n# example: checks\n([\s\S]*?)```/.exec(DOC)![1]!, { baseDir: '/srv/trellis' });
  const checks = new PolicySnapshot(checksConfig);
  const message = parseElement(/```xml\n([\s\S]*?)```/.exec(DOC)![1]!.trim(), undefined, NS_CLIENT);
  const shown = /\$ trellis policy explain --from alice@example\.com\/phone --to bob@chat\.partner\.example --stanza message\.xml\n([\s\S]*?)```/.exec(DOC)![1]!;
  const isHosted = (domain: string) => checksConfig.hosts.some((host) => host.domain === domain);
  assert.equal(formatExplanation(explain(checks, isHosted, 'alice@example.com/phone', 'bob@chat.partner.example', message)), shown);
  assert.deepEqual(checks.pairDemands('lab.example'), [], 'require_tls: false turns off what "*" turns on');
  const judged = (from: string, to: string, xml: string) => {
    const stanza = parseElement(xml, undefined, NS_CLIENT);
    const direction = isHosted(parseJid(from).domain) ? 'out' : 'in';
    const { verdict } = checks.stanzaCrossing(stanza, { direction, from: parseJid(from), to: parseJid(to) });
    return verdict.kind === 'reject' ? `${verdict.condition}${verdict.silent ? ' silent' : ''} @ ${verdict.rule}` : verdict.kind;
  };
  assert.equal(judged('bob@lab.example', 'alice@example.com', `<message><body>${'x'.repeat(20_000)}</body></message>`), 'continue');
  assert.equal(judged('bob@other.example', 'alice@example.com', `<message><body>${'x'.repeat(20_000)}</body></message>`), 'policy-violation @ s2s.peering["*"].max_message_bytes');
  assert.equal(judged('carol@liaison.example.com', 'bob@partner.example', '<message><body>hi</body></message>'), 'continue');
  assert.equal(judged('alice@example.com', 'x@rooms.example', '<message type="chat"><body>hi</body></message>'), 'policy-violation silent @ s2s.peering["rooms.example"].block');
  assert.equal(judged('alice@example.com', 'x@rooms.example', '<message type="groupchat"><body>hi</body></message>'), 'continue');
});

test('the audit example loads with its settings', () => {
  const audited = parseConfig(/```yaml\n# example: audit\n([\s\S]*?)```/.exec(DOC)![1]!, { baseDir: '/srv/trellis' });
  assert.deepEqual(audited.s2s.peering_audit, { enabled: true, record_actions: true, retention_days: 30, max_records: 500000, write_interval: 1, webhook: 'https://alerts.example.com/xmpp', webhook_timeout: 5 });
});

test('the trunk example: the partner goes on the stream with its edge, which speaks for it', () => {
  const trunk = parseConfig(/```yaml\n# example: trunk\n([\s\S]*?)```/.exec(DOC)![1]!, { baseDir: '/srv/trellis' });
  const snapshot = new PolicySnapshot(trunk);
  assert.equal(snapshot.trunkFor('chat.partner.example'), 'edge.partner.example');
  assert.equal(snapshot.trunkFor('edge.partner.example'), undefined);
  assert.equal(snapshot.speaksFor('edge.partner.example', 'chat.partner.example').kind, 'continue');
  assert.equal(snapshot.speaksFor('edge.partner.example', 'elsewhere.example').kind, 'reject');
  assert.equal(snapshot.requirement('edge.partner.example').level, 'trusted');
});

test('the hidden features example: the partner and its subdomains see no Jingle in disco#info, and may not use it', () => {
  const hidden = new PolicySnapshot(parseConfig(/```yaml\n# example: hidden features\n([\s\S]*?)```/.exec(DOC)![1]!, { baseDir: '/srv/trellis' }));
  const judged = (from: string, to: string, xml: string) => {
    const direction = from.endsWith('@example.com/r') ? 'out' : 'in';
    const { verdict } = hidden.stanzaCrossing(parseElement(xml, undefined, NS_CLIENT), { direction, from: parseJid(from), to: parseJid(to) });
    return verdict.kind === 'transform' ? verdict.stanza.toString() : verdict.kind === 'reject' ? `${verdict.condition} @ ${verdict.rule}` : verdict.kind;
  };
  const info = "<iq type='result' id='1'><query xmlns='http://jabber.org/protocol/disco#info'><feature var='urn:xmpp:jingle:1'/><feature var='urn:xmpp:ping'/></query></iq>";
  assert.doesNotMatch(judged('alice@example.com/r', 'bob@chat.partner.example/r', info), /jingle/);
  assert.equal(judged('alice@example.com/r', 'bob@other.example/r', info), 'continue');
  assert.equal(judged('bob@partner.example/r', 'alice@example.com/r', "<iq type='set' id='2'><jingle xmlns='urn:xmpp:jingle:1'/></iq>"), 'service-unavailable @ s2s.peering["partner.example"].hide_features');
});

/** An example of the page loaded beside empty files of the names it gives (the loader checks they can be read). */
function exampleBesideFiles(name: string, files: readonly string[]): ReturnType<typeof parseConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-peering-docs-'));
  try {
    for (const file of files) writeFileSync(join(dir, file), '');
    return parseConfig(new RegExp('```yaml\\n# example: ' + name + '\\n([\\s\\S]*?)```').exec(DOC)![1]!, { baseDir: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the fronting examples: the edge fronts inside.example and relays between it and outside.example; the inner server lets the edge speak for everything outside', () => {
  const edge = new PolicySnapshot(exampleBesideFiles('fronting-edge', ['ca.crt', 'edge.example.crt', 'edge.example.key']));
  assert.ok(edge.fronts('inside.example'));
  assert.ok(!edge.fronts('hidden.example'));
  assert.ok(!edge.fronts('outside.example'));
  assert.equal(edge.relay('outside.example', 'inside.example').kind, 'continue');
  assert.equal(edge.relay('inside.example', 'outside.example').kind, 'continue');
  assert.equal(edge.relay('outside.example', 'hidden.example').kind, 'reject');
  assert.equal(edge.trunkFor('inside.example'), undefined, 'the stream inward names inside.example');
  const inner = new PolicySnapshot(exampleBesideFiles('fronting-inner', ['ca.crt', 'inside.example.crt', 'inside.example.key', 'hidden.example.crt', 'hidden.example.key']));
  assert.equal(inner.trunkFor('outside.example'), 'edge.example');
  assert.equal(inner.speaksFor('edge.example', 'outside.example').kind, 'continue');
  assert.equal(inner.fronted.size, 0);
});

test('explain on the fronting edge: the relay between outside.example and the fronted domain, as the page shows', () => {
  const config = exampleBesideFiles('fronting-edge', ['ca.crt', 'edge.example.crt', 'edge.example.key']);
  const edge = new PolicySnapshot(config);
  const edgeHosts = (domain: string) => config.hosts.some((host) => host.domain === domain);
  const shown = /\$ trellis policy explain --from pat@outside\.example --to bob@inside\.example\n([\s\S]*?)```/.exec(DOC)![1]!;
  const explained = explain(edge, edgeHosts, 'pat@outside.example', 'bob@inside.example');
  assert.equal(formatExplanation(explained), shown);
  assert.equal(explained.direction, 'relay');
  assert.deepEqual(explained.direction === 'relay' && explained.steps.map((step) => step.question), ['relay', 'front', 'connection', 'level', 'route', 'connection', 'level']);
  const back = explain(edge, edgeHosts, 'bob@inside.example', 'pat@outside.example', parseElement("<message xmlns='jabber:client'><body>hi</body></message>"));
  assert.equal(back.direction, 'relay');
  assert.match(back.direction === 'relay' ? back.stanza?.crossing ?? '' : '', /from="bob@inside\.example" to="pat@outside\.example"/);
  const hidden = explain(edge, edgeHosts, 'pat@outside.example', 'x@hidden.example');
  assert.equal(hidden.direction, 'none');
  assert.match(formatExplanation(hidden), /neither outside\.example nor hidden\.example is hosted here, and stanzas between them are not relayed/);
});
