/**
 * Security labels (docs/labels.md), table by table, with the page's example configuration: each
 * clearance that decides, default labels, labels that may not be there, and labels written into
 * the destination's policy by its equivalence with the original kept.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../config/load.ts';
import { parseJid } from '../jid/jid.ts';
import { NS_CLIENT } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { explain, formatExplanation } from './explain.ts';
import { catalogFor } from './labels.ts';
import { PolicySnapshot } from './snapshot.ts';

const DOC = readFileSync(new URL('../../docs/labels.md', import.meta.url), 'utf8');
const EXAMPLE = /```yaml\n# example: labels\n([\s\S]*?)```/.exec(DOC)![1]!;
const policy = new PolicySnapshot(parseConfig(EXAMPLE, { baseDir: '/' }));

const SL = "xmlns='urn:xmpp:sec-label:0'";
const acme = (classification: string, ...categories: string[]) =>
  `<seclabel xmlns='urn:xmpp:trellis:sec-label:0' policy='acme' classification='${classification}'>${categories.map((c) => `<category>${c}</category>`).join('')}</seclabel>`;
const partner = (classification: string, ...categories: string[]) =>
  `<seclabel xmlns='urn:xmpp:trellis:sec-label:0' policy='partner' classification='${classification}'>${categories.map((c) => `<category>${c}</category>`).join('')}</seclabel>`;
const labelled = (inner: string, extra = '') => `<message type='chat'><body>hi</body><securitylabel ${SL}><label>${inner}</label>${extra}</securitylabel></message>`;

/** The verdict in a line, the marking the audit records, and the label of what crosses. */
function judge(from: string, to: string, xml: string, snapshot = policy): { summary: string; label?: string; crossing?: string } {
  const element = parseElement(xml, undefined, NS_CLIENT);
  const direction = parseJid(from).domain === 'example.com' ? 'out' : 'in';
  const { verdict, label } = snapshot.stanzaCrossing(element, { direction, from: parseJid(from), to: parseJid(to) });
  const marking = label === undefined ? {} : { label };
  if (verdict.kind === 'reject') return { summary: `reject ${verdict.condition}/${verdict.type}${verdict.silent ? ' silent' : ''} @ ${verdict.rule}`, ...marking };
  if (verdict.kind === 'transform') {
    const written = /<securitylabel[\s\S]*<\/securitylabel>/.exec(serialize(verdict.stanza));
    return { summary: `transform @ ${verdict.rule}`, ...marking, crossing: written?.[0] ?? serialize(verdict.stanza) };
  }
  return { summary: verdict.kind, ...marking };
}

const X = 'xmlns="urn:xmpp:trellis:sec-label:0"';
const written = (marking: string, label: string, ...equivalents: string[]) =>
  `<securitylabel xmlns="urn:xmpp:sec-label:0"><displaymarking>${marking}</displaymarking><label>${label}</label>${equivalents.map((e) => `<equivalentlabel>${e}</equivalentlabel>`).join('')}</securitylabel>`;

describe('security labels: the clearance that decides', () => {
  const cases: [string, string, string, string, string, string?][] = [
    ['a label within every clearance, written for the partner', 'alice@example.com/r', 'bob@partner.example/r', labelled(acme('restricted')), 'transform @ s2s.peering["partner.example"].label_policy', 'RESTRICTED'],
    ['above the recipient (a domain pattern)', 'alice@example.com/r', 'bob@partner.example', labelled(acme('secret')), 'reject forbidden/auth @ s2s.security_labels.clearances["*@partner.example"]', 'SECRET'],
    ['a category the recipient lacks', 'alice@example.com/r', 'bob@partner.example', labelled(acme('restricted', 'legal')), 'reject forbidden/auth @ s2s.security_labels.clearances["*@partner.example"]', 'RESTRICTED LEGAL'],
    ['above the sender (a domain pattern)', 'mallory@example.com/r', 'bob@partner.example', labelled(acme('confidential')), 'reject forbidden/auth @ s2s.security_labels.clearances["*@example.com"]', 'CONFIDENTIAL'],
    ['above the recipient with only the default clearance', 'alice@example.com/r', 'x@other.example', labelled(acme('restricted')), 'reject forbidden/auth @ s2s.security_labels.policies["acme"].default_clearance', 'RESTRICTED'],
    ['within every clearance toward a domain under the governing policy', 'alice@example.com/r', 'x@other.example', labelled(acme('unclassified')), 'continue', 'UNCLASSIFIED'],
    ['an ESS label the policy lists, read exactly', 'alice@example.com/r', 'bob@partner.example', labelled("<esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'> MQYCAQQG\n ASk= </esssecuritylabel>"), 'reject forbidden/auth @ s2s.security_labels.clearances["*@partner.example"]', 'SECRET'],
    ['an ESS label no policy lists', 'alice@example.com/r', 'bob@partner.example', labelled("<esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQYCAQIGASk=</esssecuritylabel>"), 'reject forbidden/auth @ s2s.security_labels.policies'],
    ['a label of a policy not configured', 'alice@example.com/r', 'bob@partner.example', labelled("<seclabel xmlns='urn:xmpp:trellis:sec-label:0' policy='other' classification='restricted'/>"), 'reject forbidden/auth @ s2s.security_labels.policies'],
    ['coming in above the recipient', 'bob@partner.example/r', 'mallory@example.com', labelled(partner('sensitive', 'money')), 'reject forbidden/auth @ s2s.security_labels.clearances["*@example.com"]', 'CONFIDENTIAL FINANCE'],
    ['presence with a label', 'alice@example.com/r', 'bob@partner.example', `<presence><securitylabel ${SL}><label>${acme('restricted')}</label></securitylabel></presence>`, 'reject bad-request/modify @ s2s.security_labels'],
    ['presence without one is not label-checked', 'alice@example.com/r', 'bob@partner.example', '<presence/>', 'continue'],
    ['an incoming error with a label is discarded', 'bob@partner.example/r', 'alice@example.com/r', `<message type='error'><securitylabel ${SL}><label>${acme('restricted')}</label></securitylabel><error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`, 'reject bad-request/modify silent @ s2s.security_labels'],
    ['two labels on one message', 'alice@example.com/r', 'bob@partner.example', `<message><body>x</body><securitylabel ${SL}><label/></securitylabel><securitylabel ${SL}><label/></securitylabel></message>`, 'reject bad-request/modify @ s2s.security_labels'],
    ['an IQ result is never label-checked', 'bob@partner.example/r', 'alice@example.com/r', "<iq type='result' id='1'/>", 'continue'],
  ];
  for (const [name, from, to, xml, summary, label] of cases) {
    test(name, () => {
      const judged = judge(from, to, xml);
      assert.equal(judged.summary, summary);
      assert.equal(judged.label, label);
    });
  }

  test('a refusal names the label, the party and the key', () => {
    const element = parseElement(labelled(acme('confidential')), undefined, NS_CLIENT);
    const { verdict } = policy.stanzaCrossing(element, { direction: 'out', from: parseJid('mallory@example.com/r'), to: parseJid('bob@partner.example') });
    assert.equal(verdict.kind === 'reject' && verdict.text, `the label CONFIDENTIAL is not within the sender mallory@example.com's clearance RESTRICTED (s2s.security_labels.clearances["*@example.com"])`);
  });
});

describe('security labels: written for the destination by its equivalence, the original kept', () => {
  const cases: [string, string, string, string, string][] = [
    ['out: a label mapped into the partner policy, with its category', 'alice@example.com/r', 'bob@partner.example', labelled(acme('confidential', 'finance')), written('SENSITIVE MONEY', `<seclabel ${X} policy="partner" classification="sensitive"><category>money</category></seclabel>`, `<seclabel ${X} policy="acme" classification="confidential"><category>finance</category></seclabel>`)],
    ['out: no label gets the default, written for the partner, the default kept', 'alice@example.com/r', 'bob@partner.example', "<message><body>x</body></message>", written('PUBLIC', `<seclabel ${X} policy="partner" classification="public"/>`, `<seclabel ${X} policy="acme" classification="unclassified"/>`)],
    ['out: an empty label is the default', 'alice@example.com/r', 'bob@partner.example', `<message><body>x</body><securitylabel ${SL}><label/></securitylabel></message>`, written('PUBLIC', `<seclabel ${X} policy="partner" classification="public"/>`, `<seclabel ${X} policy="acme" classification="unclassified"/>`)],
    ['out under the governing policy: no label gets the default', 'alice@example.com/r', 'x@other.example', "<message><body>x</body></message>", written('UNCLASSIFIED', `<seclabel ${X} policy="acme" classification="unclassified"/>`)],
    ['in: a partner label read back into the governing policy', 'bob@partner.example/r', 'alice@example.com', labelled(partner('internal')), written('RESTRICTED', `<seclabel ${X} policy="acme" classification="restricted"/>`, `<seclabel ${X} policy="partner" classification="internal"/>`)],
    ['in: an equivalent label the governing policy reads is the effective one', 'bob@partner.example/r', 'alice@example.com', labelled(partner('public'), `<equivalentlabel>${acme('unclassified')}</equivalentlabel>`), written('UNCLASSIFIED', `<seclabel ${X} policy="acme" classification="unclassified"/>`, `<seclabel ${X} policy="partner" classification="public"/>`)],
    ['in: an empty label from a server under the governing policy is the default, written in', 'carol@other.example/r', 'alice@example.com', `<message><body>x</body><securitylabel ${SL}><label/></securitylabel></message>`, written('UNCLASSIFIED', `<seclabel ${X} policy="acme" classification="unclassified"/>`)],
    ['out: an error loses its label', 'alice@example.com/r', 'bob@partner.example/r', `<message type='error'><body>x</body><securitylabel ${SL}><label/></securitylabel><error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`, `<message xmlns="jabber:client" type="error"><body>x</body><error type="cancel"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`],
    ['out: a labelled publish-subscribe item in an IQ', 'alice@example.com/r', 'pubsub@partner.example', `<iq type='set' id='p'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'><item><entry xmlns='http://www.w3.org/2005/Atom'/><securitylabel ${SL}><label>${acme('restricted')}</label></securitylabel></item></publish></pubsub></iq>`, written('INTERNAL', `<seclabel ${X} policy="partner" classification="internal"/>`, `<seclabel ${X} policy="acme" classification="restricted"/>`)],
  ];
  for (const [name, from, to, xml, crossing] of cases) {
    test(name, () => assert.equal(judge(from, to, xml).crossing, crossing));
  }

  test('a label that does not map is refused at the label policy', () => {
    const snapshot = new PolicySnapshot(parseConfig(EXAMPLE.replace('"*@partner.example": { clearance: "confidential finance" }', '"*@partner.example": { clearance: "secret finance legal" }').replace('partner.example: { clearance: "confidential finance"', 'partner.example: { clearance: "secret finance legal"'), { baseDir: '/' }));
    assert.equal(judge('alice@example.com/r', 'bob@partner.example', labelled(acme('confidential', 'legal')), snapshot).summary, 'reject forbidden/auth @ s2s.peering["partner.example"].label_policy');
    assert.equal(judge('alice@example.com/r', 'bob@partner.example', labelled(acme('secret')), snapshot).summary, 'reject forbidden/auth @ s2s.peering["partner.example"].label_policy');
  });

  test('several classifications mapped to one come back as the highest', () => {
    const snapshot = new PolicySnapshot(parseConfig(EXAMPLE.replace('"restricted = internal", "confidential = sensitive"', '"restricted = internal", "confidential = internal"'), { baseDir: '/' }));
    assert.equal(judge('bob@partner.example/r', 'mallory@example.com', labelled(partner('internal')), snapshot).summary, 'reject forbidden/auth @ s2s.security_labels.clearances["*@example.com"]', 'internal reads back as confidential, above restricted');
  });

  test('without a default label an unlabelled message is refused', () => {
    const snapshot = new PolicySnapshot(parseConfig(EXAMPLE.replace('default_label: unclassified', ''), { baseDir: '/' }));
    assert.equal(judge('alice@example.com/r', 'x@other.example', '<message><body>x</body></message>', snapshot).summary, 'reject forbidden/auth @ s2s.security_labels.policies["acme"].default_label');
  });
});

describe('security labels: what the loader refuses', () => {
  const problems: [string, string, RegExp][] = [
    ['an unknown governing policy', EXAMPLE.replace('policy: acme ', 'policy: nato '), /s2s\.security_labels\.policy: no policy "nato"/],
    ['a classification the policy lacks', EXAMPLE.replace('default_label: unclassified', 'default_label: topsecret'), /s2s\.security_labels\.policies\["acme"\]\.default_label: "topsecret" is not a classification of the policy acme/],
    ['an equivalence to a name the policy lacks', EXAMPLE.replace('"finance = money"', '"finance = cash"'), /s2s\.security_labels\.policies\["partner"\]\.equivalence\.categories\[0\]: "cash" is not among the categories of partner/],
    ['a rule clearance with an unknown category', EXAMPLE.replace('"*": { clearance: restricted }', '"*": { clearance: "restricted hr" }'), /s2s\.peering\["\*"\]\.clearance: "hr" is not a category/],
    ['a rule naming an unknown label policy', EXAMPLE.replace('label_policy: partner', 'label_policy: nato'), /s2s\.peering\["partner\.example"\]\.label_policy: no policy "nato"/],
    ['a clearance for an unknown group', EXAMPLE.replace('"group:liaison"', '"group:board"'), /s2s\.security_labels\.clearances\["group:board"\]: no group "board"/],
    ['a clearance without labels configured', 'data_dir: /x\ns2s:\n  peering:\n    "*": { clearance: secret }\nhosts:\n  example.com: {}\n', /s2s\.peering\["\*"\]\.clearance: security labels are not configured/],
  ];
  for (const [name, yaml, message] of problems) {
    test(name, () => assert.throws(() => parseConfig(yaml, { baseDir: '/' }), message));
  }
});

test('docs/labels.md: the explain output on the page is what the command prints', () => {
  const message = parseElement(/```xml\n(<message type='chat'>[\s\S]*?)```/.exec(DOC)![1]!.trim(), undefined, NS_CLIENT);
  const shown = /\$ trellis policy explain --from alice@example\.com\/desk --to bob@partner\.example --stanza labelled\.xml\n([\s\S]*?)```/.exec(DOC)![1]!;
  assert.equal(formatExplanation(explain(policy, (domain) => domain === 'example.com', 'alice@example.com/desk', 'bob@partner.example', message)), shown);
});

describe('security labels: the catalog a client gets', () => {
  const catalog = (requester: string, target: string) => {
    const remote = parseJid(target).domain !== 'example.com';
    return catalogFor(policy.labels!, parseJid(requester), parseJid(target), remote ? policy.peerClearance(parseJid(target).domain) : undefined).map((label) => policy.labels!.governing.marking(label));
  };
  const cases: [string, string, string, string[]][] = [
    ['a liaison toward a local colleague: what the colleague may read', 'alice@example.com/r', 'mallory@example.com', ['UNCLASSIFIED', 'RESTRICTED']],
    ['a liaison toward the partner: within the recipient and the partner servers', 'alice@example.com/r', 'bob@partner.example', ['UNCLASSIFIED', 'RESTRICTED', 'CONFIDENTIAL']],
    ['toward another domain: its server is cleared to restricted, its users to the default', 'alice@example.com/r', 'x@other.example', ['UNCLASSIFIED']],
    ['a user cleared to restricted toward the partner', 'mallory@example.com/r', 'bob@partner.example', ['UNCLASSIFIED', 'RESTRICTED']],
  ];
  for (const [name, requester, target, markings] of cases) test(name, () => assert.deepEqual(catalog(requester, target), markings));
});
