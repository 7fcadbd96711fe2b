/**
 * Security labels (XEP-0258, docs/labels.md) and hidden features (docs/peering.md) between two
 * Trellis servers, applied on both sides of the hop:
 *
 *   A 127.0.120.11  hosts 127.0.120.11 under the policy acme; partner.example is reached at
 *                   127.0.120.12:5269, its servers are cleared to confidential finance and work
 *                   under the policy partner; the time feature (XEP-0202) is hidden from it
 *   B 127.0.120.12  hosts partner.example under the policy partner, with acme's labels mapped
 *                   back by its own equivalence; bob is cleared to sensitive money, carol to
 *                   internal only
 *
 * A labelled message within every clearance crosses with its label written for the partner's
 * policy and the original kept; one above the recipient's clearance bounces from A with
 * forbidden, a text naming the key, and an audit record with the label's marking; one that A
 * lets through but B's clearances refuse bounces back from B across the hop. An unlabelled
 * message gets the default label. B sees no hidden feature in A's disco#info and its request
 * using one is refused. slixmpp, a real client, asks B for the catalog toward alice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminJson } from '../../src/admin/client.ts';
import { loginFederated, startServerAt, type FederatedServer } from '../support/federation.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import type { RawClient } from '../support/raw-client.ts';
import { startSlixmpp } from '../support/slixmpp.ts';
import type { ClientDriver } from '../support/client-driver.ts';

const A = '127.0.120.11';
const B = '127.0.120.12';
const POLICIES = (governing: 'acme' | 'partner') => `
    policies:
      acme:
        classifications: [unclassified, restricted, confidential, secret]
        categories: [finance, legal]
${governing === 'acme' ? '        default_label: unclassified\n' : `        equivalence:
          classifications: ["public = unclassified", "internal = restricted", "sensitive = confidential"]
          categories: ["money = finance"]
`}      partner:
        classifications: [public, internal, sensitive]
        categories: [money]
${governing === 'partner' ? '        default_label: public\n' : `        equivalence:
          classifications: ["unclassified = public", "restricted = internal", "confidential = sensitive"]
          categories: ["finance = money"]
`}`;

const acmeLabel = (classification: string, ...categories: string[]) =>
  `<securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking>${[classification, ...categories].join(' ').toUpperCase()}</displaymarking><label><seclabel xmlns='urn:xmpp:trellis:sec-label:0' policy='acme' classification='${classification}'>${categories.map((c) => `<category>${c}</category>`).join('')}</seclabel></label></securitylabel>`;

/** The stanza answering `id`, once it arrived. */
async function replyTo(client: RawClient, id: string): Promise<string> {
  const pattern = new RegExp(`<(message|iq)[^>]*id=["']${id}["'][\\s\\S]*?</\\1>`);
  return pattern.exec(await client.waitFor(pattern, 10_000))![0];
}

/** A message sent after `text` arrives at `to` (as `jid`); what went before it on the same way did too, so `text` never will. */
async function noLongerArriving(from: RawClient, to: RawClient, jid: string, text: string): Promise<void> {
  const barrier = `barrier ${Math.random()}`;
  from.send(`<message to='${jid}' type='chat'><body>${barrier}</body></message>`);
  assert.doesNotMatch(await to.waitFor(barrier, 10_000), new RegExp(text));
}

describe('security labels and hidden features between Trellis servers', () => {
  let a: FederatedServer;
  let b: FederatedServer;
  let alice: RawClient;
  let bob: RawClient;
  let carol: RawClient;
  let slixmpp: ClientDriver | undefined;

  before(async () => {
    assertInsideLab();
    [a, b] = await Promise.all([
      startServerAt(
        A,
        A,
        `s2s:
  retry_initial_delay: 1
  peering_audit: { write_interval: 1 }
  security_labels:
    policy: acme
${POLICIES('acme')}
    clearances:
      "alice@${A}": { clearance: "secret finance" }
      "*@partner.example": { clearance: "confidential finance" }
  peering:
    partner.example:
      via: "${B}:5269"
      clearance: "confidential finance"
      label_policy: partner
      hide_features: ["urn:xmpp:time"]
`,
      ),
      startServerAt(
        B,
        'partner.example',
        `s2s:
  retry_initial_delay: 1
  security_labels:
    policy: partner
${POLICIES('partner')}
    clearances:
      "bob@partner.example": { clearance: "sensitive money" }
      "carol@partner.example": { clearance: internal }
      "*@${A}": { clearance: "sensitive money" }
  peering:
    "${A}": { clearance: "sensitive money" }
`,
      ),
    ]);
    await Promise.all([a.addUser('alice', A, 'secret'), b.addUser('bob', 'partner.example', 'secret'), b.addUser('carol', 'partner.example', 'secret')]);
    [alice, bob, carol] = await Promise.all([loginFederated(a, 'alice'), loginFederated(b, 'bob'), loginFederated(b, 'carol')]);
  });
  after(async () => {
    await slixmpp?.disconnect();
    for (const client of [alice, bob, carol]) client?.close();
    await Promise.all([a, b].map((server) => server?.stop()));
  });

  test("a labelled message within every clearance arrives written in the partner's policy, the original kept", async () => {
    alice.send(`<message to='bob@partner.example/r' id='allowed' type='chat'><body>figures attached</body>${acmeLabel('confidential', 'finance')}</message>`);
    const arrived = await replyTo(bob, 'allowed');
    assert.match(arrived, /<body>figures attached<\/body>/);
    assert.match(arrived, /<displaymarking>SENSITIVE MONEY<\/displaymarking>/);
    assert.match(arrived, /<label><seclabel xmlns=["']urn:xmpp:trellis:sec-label:0["'] policy=["']partner["'] classification=["']sensitive["']><category>money<\/category><\/seclabel><\/label>/);
    assert.match(arrived, /<equivalentlabel><seclabel xmlns=["']urn:xmpp:trellis:sec-label:0["'] policy=["']acme["'] classification=["']confidential["']><category>finance<\/category><\/seclabel><\/equivalentlabel>/);
  });

  test('an unlabelled message gets the default label', async () => {
    alice.send("<message to='bob@partner.example/r' id='unlabelled' type='chat'><body>lunch?</body></message>");
    const arrived = await replyTo(bob, 'unlabelled');
    assert.match(arrived, /<displaymarking>PUBLIC<\/displaymarking>/);
    assert.match(arrived, /policy=["']acme["'] classification=["']unclassified["']/);
  });

  test('a label above the recipient bounces from the first hop with forbidden, the key, and an audit record with its marking', async () => {
    alice.send(`<message to='bob@partner.example/r' id='secret' type='chat'><body>the plan</body>${acmeLabel('secret')}</message>`);
    const error = await replyTo(alice, 'secret');
    assert.match(error, /type=["']error["']/);
    assert.match(error, /<forbidden xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    assert.match(error, /the label SECRET is not within the recipient bob@partner.example's clearance CONFIDENTIAL FINANCE \(s2s.security_labels.clearances\["\*@partner.example"\]\)/);
    assert.doesNotMatch(error, /securitylabel/, 'an error carries no label (XEP-0258 section 5)');
    assert.doesNotMatch(error, /the plan/, 'nor any of the refused content (XEP-0258 section 5)');
    await noLongerArriving(alice, bob, 'bob@partner.example/r', 'the plan');
    const rule = 's2s.security_labels.clearances["*@partner.example"]';
    let records: { rule: string; verdict: string; label?: string; from: string }[] = [];
    for (const until = Date.now() + 5000; Date.now() < until && records.length === 0; await new Promise((resolve) => setTimeout(resolve, 200))) {
      records = (await adminJson<{ records: typeof records }>(a.server.adminSocket!, 'GET', `/v1/audit?rule=${encodeURIComponent(rule)}`)).records;
    }
    assert.deepEqual(records.map((record) => [record.rule, record.verdict, record.label, record.from]), [[rule, 'refuse', 'SECRET', `alice@${A}/r`]]);
  });

  test("a label the first hop lets through is refused by the partner's own clearances, and bounces back across", async () => {
    alice.send(`<message to='carol@partner.example/r' id='above-carol' type='chat'><body>figures for carol</body>${acmeLabel('confidential', 'finance')}</message>`);
    const error = await replyTo(alice, 'above-carol');
    assert.match(error, /<forbidden xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    assert.match(error, /the label SENSITIVE MONEY is not within the recipient carol@partner.example's clearance INTERNAL \(s2s.security_labels.clearances\["carol@partner.example"\]\)/);
    await noLongerArriving(alice, carol, 'carol@partner.example/r', 'figures for carol');
  });

  test('a hidden feature is absent from the disco#info the partner sees, and a request using it is refused', async () => {
    alice.send(`<iq to='${A}' id='own-disco' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const own = await replyTo(alice, 'own-disco');
    assert.match(own, /var=["']urn:xmpp:time["']/, 'local clients still see it');
    assert.match(own, /var=["']urn:xmpp:sec-label:0["']/);
    bob.send(`<iq to='${A}' id='remote-disco' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const seen = await replyTo(bob, 'remote-disco');
    assert.match(seen, /type=["']result["']/);
    assert.match(seen, /var=["']urn:xmpp:sec-label:catalog:2["']/);
    assert.doesNotMatch(seen, /urn:xmpp:time/);
    bob.send(`<iq to='${A}' id='remote-time' type='get'><time xmlns='urn:xmpp:time'/></iq>`);
    const refused = await replyTo(bob, 'remote-time');
    assert.match(refused, /<service-unavailable xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    assert.match(refused, /the feature urn:xmpp:time is not offered to or from partner.example/);
  });

  test('slixmpp asks its server for the catalog toward a remote address', async () => {
    slixmpp = await startSlixmpp(b, 'bob@partner.example/labels', 'secret');
    const towardAlice = await slixmpp.ok({ op: 'label_catalog', for: `alice@${A}` });
    assert.deepEqual([towardAlice.to, towardAlice.name, towardAlice.restrict], [`alice@${A}`, 'partner', true]);
    assert.deepEqual(towardAlice.items, [
      { selector: 'PUBLIC', default: true, marking: 'PUBLIC' },
      { selector: 'INTERNAL', default: false, marking: 'INTERNAL' },
      { selector: 'SENSITIVE', default: false, marking: 'SENSITIVE' },
    ]);
    // Toward carol, cleared to internal only, the catalog offers nothing above it.
    const towardCarol = await slixmpp.ok({ op: 'label_catalog', for: 'carol@partner.example' });
    assert.deepEqual((towardCarol.items as { marking: string }[]).map((item) => item.marking), ['PUBLIC', 'INTERNAL']);
  });
});
