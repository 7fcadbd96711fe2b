/** The checks and actions of s2s.peering, table by table: which rule decides each check, and what each does to a stanza. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.ts';
import { parseJid } from '../jid/jid.ts';
import { NS_CLIENT } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { PolicySnapshot } from './snapshot.ts';

const CONFIG = parseConfig(
  `data_dir: /nonexistent
s2s:
  peering_groups:
    staff: { members: [alice@example.com, "*@board.example.com"] }
  peering:
    "*": { block: [file-transfer, encrypted], fold_presence: away, max_message_bytes: 400 }
    partner.example:
      subdomains: true
      stanza_kinds: [message, presence]
      block: [muc]
      strip_elements: ["http://jabber.org/protocol/xhtml-im"]
      drop_chat_states: true
      drop_message_types: [headline]
      fold_presence: off
    "*.partner.example": { max_message_bytes: 0 }
    mucs.example: { block: [one-to-one] }
    closed.example: { senders: ["group:staff"], deny_recipients: ["boss@closed.example"], refusal: drop }
    open.example: { recipients: ["*@*.open.example"] }
hosts:
  example.com: {}
  board.example.com: {}
`,
  { baseDir: '/' },
);

const policy = new PolicySnapshot(CONFIG);
const stanza = (xml: string) => parseElement(xml, undefined, NS_CLIENT);

/** The stanza judged as sent from `from` to `to` (one of them hosted here): the verdict in a line, and what crosses. */
function judge(from: string, to: string, xml: string): { summary: string; crossing?: string } {
  const element = stanza(xml);
  element.attrs.from = from;
  element.attrs.to = to;
  const direction = parseJid(from).domain.endsWith('example.com') ? 'out' : 'in';
  const { verdict } = policy.stanzaCrossing(element, { direction, from: parseJid(from), to: parseJid(to) });
  if (verdict.kind === 'reject') return { summary: `reject ${verdict.condition}/${verdict.type ?? 'default'}${verdict.silent ? ' silent' : ''} @ ${verdict.rule}` };
  if (verdict.kind === 'transform') return { summary: `transform @ ${verdict.rule}`, crossing: serialize(verdict.stanza).replace(/ from="[^"]*" to="[^"]*"/, '') };
  return { summary: `${verdict.kind}` };
}

const BIG = 'x'.repeat(500);

describe('stanza checks of peering rules', () => {
  const cases: [name: string, from: string, to: string, xml: string, expected: string, crossing?: string][] = [
    ['a plain message passes every check', 'alice@example.com', 'bob@other.example', '<message type="chat"><body>hi</body></message>', 'continue'],
    ['errors always cross', 'bob@other.example', 'alice@example.com', `<message type="error"><body>${BIG}</body><error type="cancel"><not-allowed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`, 'continue'],
    ['a kind not among stanza_kinds', 'alice@example.com', 'x@partner.example', '<iq type="get" id="1"><query xmlns="jabber:iq:version"/></iq>', 'reject policy-violation/cancel @ s2s.peering["partner.example"].stanza_kinds'],
    ['the same kind from a subdomain (subdomains: true)', 'x@chat.partner.example', 'alice@example.com', '<iq type="get" id="1"><query xmlns="jabber:iq:version"/></iq>', 'reject policy-violation/cancel @ s2s.peering["partner.example"].stanza_kinds'],
    ['file transfer (XEP-0234) blocked by the default rule', 'alice@example.com', 'bob@other.example', '<iq type="set" id="1"><jingle xmlns="urn:xmpp:jingle:1" action="session-initiate"><content name="a"><description xmlns="urn:xmpp:jingle:apps:file-transfer:5"/></content></jingle></iq>', 'reject policy-violation/cancel @ s2s.peering["*"].block'],
    ['HTTP upload slot request (XEP-0363)', 'alice@example.com', 'upload.other.example', '<iq type="get" id="1"><request xmlns="urn:xmpp:http:upload:0" filename="a" size="1"/></iq>', 'reject policy-violation/cancel @ s2s.peering["*"].block'],
    ['in-band bytestream data in a message (XEP-0047)', 'bob@other.example', 'alice@example.com', '<message><data xmlns="http://jabber.org/protocol/ibb" sid="s" seq="0">AAAA</data></message>', 'reject policy-violation/cancel @ s2s.peering["*"].block'],
    ['OMEMO (XEP-0384)', 'bob@other.example', 'alice@example.com', '<message type="chat"><encrypted xmlns="urn:xmpp:omemo:2"><header sid="1"/></encrypted><body>fallback</body></message>', 'reject policy-violation/cancel @ s2s.peering["*"].block'],
    ['OpenPGP (XEP-0373)', 'alice@example.com', 'bob@other.example', '<message><openpgp xmlns="urn:xmpp:openpgp:0">AAA</openpgp></message>', 'reject policy-violation/cancel @ s2s.peering["*"].block'],
    ['an EME hint (XEP-0380)', 'alice@example.com', 'bob@other.example', '<message><encryption xmlns="urn:xmpp:eme:0" namespace="urn:xmpp:otr:0"/><body>?OTRv3</body></message>', 'reject policy-violation/cancel @ s2s.peering["*"].block'],
    ['an OTR body (XEP-0364)', 'alice@example.com', 'bob@other.example', '<message><body>?OTR:AAMG</body></message>', 'reject policy-violation/cancel @ s2s.peering["*"].block'],
    ['a narrower block replaces the default one: encrypted passes for partner.example', 'alice@example.com', 'x@partner.example', '<message><encrypted xmlns="urn:xmpp:omemo:2"/><body>fallback</body></message>', 'continue'],
    ['MUC join blocked', 'alice@example.com', 'room@partner.example/alice', '<presence><x xmlns="http://jabber.org/protocol/muc"/></presence>', 'reject policy-violation/cancel @ s2s.peering["partner.example"].block'],
    ['groupchat message blocked', 'room@partner.example/bob', 'alice@example.com', '<message type="groupchat"><body>hi</body></message>', 'reject policy-violation/cancel @ s2s.peering["partner.example"].block'],
    ['MUC only: a chat message refused', 'alice@example.com', 'bob@mucs.example', '<message type="chat"><body>hi</body></message>', 'reject policy-violation/cancel @ s2s.peering["mucs.example"].block'],
    ['MUC only: a message without type is normal, refused', 'alice@example.com', 'bob@mucs.example', '<message><body>hi</body></message>', 'reject policy-violation/cancel @ s2s.peering["mucs.example"].block'],
    ['MUC only: groupchat passes', 'alice@example.com', 'room@mucs.example', '<message type="groupchat"><body>hi</body></message>', 'continue'],
    ['MUC only: a mediated invitation passes', 'room@mucs.example', 'alice@example.com', '<message><x xmlns="http://jabber.org/protocol/muc#user"><invite from="bob@mucs.example"/></x></message>', 'continue'],
    ['a message over max_message_bytes', 'alice@example.com', 'bob@other.example', `<message><body>${BIG}</body></message>`, 'reject policy-violation/modify @ s2s.peering["*"].max_message_bytes'],
    ['max_message_bytes: 0 turns the limit off for the subdomains', 'alice@example.com', 'bob@chat.partner.example', `<message><body>${BIG}</body></message>`, 'continue'],
    ['a message type dropped whole', 'x@partner.example', 'alice@example.com', '<message type="headline"><body>news</body></message>', 'reject policy-violation/default silent @ s2s.peering["partner.example"].drop_message_types'],
    ['senders: a member of the group', 'alice@example.com', 'x@closed.example', '<message><body>hi</body></message>', 'continue'],
    ['senders: a member by the group\'s domain pattern', 'carol@board.example.com', 'x@closed.example', '<message><body>hi</body></message>', 'continue'],
    ['senders: not in the group, dropped silently by refusal: drop', 'carol@example.com', 'x@closed.example', '<message><body>hi</body></message>', 'reject forbidden/auth silent @ s2s.peering["closed.example"].senders'],
    ['deny_recipients names the recipient', 'alice@example.com', 'boss@closed.example/phone', '<message><body>hi</body></message>', 'reject not-allowed/cancel silent @ s2s.peering["closed.example"].deny_recipients[0]'],
    ['recipients: a subdomain pattern covers the recipient', 'alice@example.com', 'x@a.open.example', '<message><body>hi</body></message>', 'continue'],
    ['recipients: the domain itself is not a subdomain', 'alice@example.com', 'x@open.example', '<message><body>hi</body></message>', 'reject not-allowed/cancel @ s2s.peering["open.example"].recipients'],
  ];
  for (const [name, from, to, xml, expected] of cases) {
    test(name, () => assert.equal(judge(from, to, xml).summary, expected));
  }
});

describe('folding by peering rules', () => {
  const cases: [name: string, from: string, to: string, xml: string, expected: string, crossing?: string][] = [
    ['presence: xa folds to away, status, priority and caps go', 'bob@other.example', 'alice@example.com', '<presence><show>xa</show><status>at dentist</status><priority>5</priority><c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="n" ver="v"/></presence>', 'transform @ s2s.peering["*"].fold_presence', '<presence xmlns="jabber:client"><show>away</show></presence>'],
    ['presence: dnd folds to available under "away"', 'alice@example.com', 'bob@other.example', '<presence><show>dnd</show><x xmlns="vcard-temp:x:update"><photo/></x></presence>', 'transform @ s2s.peering["*"].fold_presence', '<presence xmlns="jabber:client"/>'],
    ['presence: unavailable loses its status', 'alice@example.com', 'bob@other.example', '<presence type="unavailable"><status>bye</status></presence>', 'transform @ s2s.peering["*"].fold_presence', '<presence xmlns="jabber:client" type="unavailable"/>'],
    ['presence: a subscription request passes whole', 'alice@example.com', 'bob@other.example', '<presence type="subscribe"><nick xmlns="http://jabber.org/protocol/nick">A</nick></presence>', 'continue'],
    ['presence: fold_presence: off for partner.example', 'x@partner.example', 'alice@example.com', '<presence><show>xa</show><status>away</status></presence>', 'continue'],
    ['message: XHTML-IM and chat states stripped, the body kept', 'alice@example.com', 'x@partner.example', '<message type="chat"><body>hi</body><html xmlns="http://jabber.org/protocol/xhtml-im"><body xmlns="http://www.w3.org/1999/xhtml">hi</body></html><active xmlns="http://jabber.org/protocol/chatstates"/></message>', 'transform @ s2s.peering["partner.example"].strip_elements, s2s.peering["partner.example"].drop_chat_states', '<message xmlns="jabber:client" type="chat"><body>hi</body></message>'],
    ['message: only a chat state, dropped', 'x@partner.example', 'alice@example.com', '<message type="chat"><composing xmlns="http://jabber.org/protocol/chatstates"/><no-store xmlns="urn:xmpp:hints"/></message>', 'reject policy-violation/default silent @ s2s.peering["partner.example"].drop_chat_states'],
  ];
  for (const [name, from, to, xml, expected, crossing] of cases) {
    test(name, () => {
      const result = judge(from, to, xml);
      assert.equal(result.summary, expected);
      assert.equal(result.crossing, crossing);
    });
  }

  test('the checks passed are noted only when explained; the verdict is the same either way', () => {
    const message = stanza('<message type="chat"><body>hi</body></message>');
    const crossing = { direction: 'out' as const, from: parseJid('alice@example.com'), to: parseJid('bob@other.example') };
    const routed = policy.stanzaCrossing(message, crossing);
    const explained = policy.stanzaCrossing(message, crossing, true);
    assert.deepEqual(routed.steps, []);
    assert.deepEqual(
      explained.steps.map((step) => `${step.check} ${step.outcome} [${step.rule}]`),
      ['block pass [s2s.peering["*"].block]', 'max_message_bytes pass [s2s.peering["*"].max_message_bytes]'],
    );
    assert.deepEqual(routed.verdict, explained.verdict);
    assert.equal(routed.verdict.rule, 's2s.peering["*"].max_message_bytes');
  });
});

describe('connection checks of peering rules, on each pair', () => {
  const strict = new PolicySnapshot(
    parseConfig(
      `data_dir: /nonexistent
s2s:
  min_level: verified
  peering:
    "*": { require_tls: true }
    bank.example: { require_strong_auth: true, level: trusted }
    lab.example: { require_tls: false }
hosts:
  example.com: {}
`,
      { baseDir: '/' },
    ),
  );
  const cases: [name: string, remote: string, facts: { reached: 'verified' | 'encrypted' | 'trusted'; tls: boolean; method: string }, expected: string][] = [
    ['TLS required by the default rule, absent', 'other.example', { reached: 'verified', tls: false, method: 'dialback' }, 'reject @ s2s.peering["*"].require_tls'],
    ['TLS required, present', 'other.example', { reached: 'encrypted', tls: true, method: 'dialback' }, 'continue'],
    ['require_tls: false turns it off for one domain', 'lab.example', { reached: 'verified', tls: false, method: 'dialback' }, 'continue'],
    ['strong authentication: dialback over TLS refused', 'bank.example', { reached: 'trusted', tls: true, method: 'dialback' }, 'reject @ s2s.peering["bank.example"].require_strong_auth'],
    ['strong authentication: SASL EXTERNAL with a trusted certificate', 'bank.example', { reached: 'trusted', tls: true, method: 'sasl-external' }, 'continue'],
  ];
  for (const [name, remote, facts, expected] of cases) {
    test(name, () => {
      const verdict = strict.authenticate({ local: 'example.com', remote, ...facts });
      assert.equal(verdict.kind === 'reject' ? `reject @ ${verdict.rule}` : verdict.kind, expected);
    });
  }

  test('explain lists what a pair must show', () => {
    assert.deepEqual(strict.pairDemands('bank.example'), [
      { demand: 'a TLS-protected connection', rule: 's2s.peering["*"].require_tls' },
      { demand: 'SASL EXTERNAL with a trusted certificate', rule: 's2s.peering["bank.example"].require_strong_auth' },
    ]);
  });
});
