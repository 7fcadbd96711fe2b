/** Hidden features (docs/peering.md, "Hiding features"), table by table: what crosses to and from a rule's domains with hide_features. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.ts';
import { parseJid } from '../jid/jid.ts';
import { NS_CLIENT } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { PolicySnapshot } from './snapshot.ts';

const policy = new PolicySnapshot(
  parseConfig(
    `data_dir: /nonexistent
s2s:
  peering:
    partner.example: { subdomains: true, hide_features: ["http://jabber.org/protocol/xhtml-im", "urn:xmpp:jingle:1", "urn:xmpp:avatar:metadata"] }
    quiet.example: { hide_features: ["urn:xmpp:jingle:1"], refusal: drop }
    open.example: { hide_features: [] }
hosts:
  example.com: {}
`,
    { baseDir: '/' },
  ),
);

const DISCO = "xmlns='http://jabber.org/protocol/disco#info'";
const CAPS = "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://client.example' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>";

function judge(from: string, to: string, xml: string): string {
  const element = parseElement(xml, undefined, NS_CLIENT);
  const direction = parseJid(from).domain === 'example.com' ? 'out' : 'in';
  const { verdict } = policy.stanzaCrossing(element, { direction, from: parseJid(from), to: parseJid(to) });
  if (verdict.kind === 'reject') return `reject ${verdict.condition}/${verdict.type}${verdict.silent ? ' silent' : ''} @ ${verdict.rule}: ${verdict.text}`;
  if (verdict.kind === 'transform') return `transform @ ${verdict.rule}: ${serialize(verdict.stanza)}`;
  return verdict.kind;
}

const cases: [string, string, string, string, string][] = [
  [
    'a disco#info answer to the partner leaves hidden features out, and their +notify',
    'alice@example.com/r',
    'bob@chat.partner.example/r',
    `<iq type='result' id='d'><query ${DISCO}><identity category='client' type='pc'/><feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/xhtml-im'/><feature var='urn:xmpp:avatar:metadata+notify'/><feature var='urn:xmpp:receipts'/></query></iq>`,
    'transform @ s2s.peering["partner.example"].hide_features: <iq xmlns="jabber:client" type="result" id="d"><query xmlns="http://jabber.org/protocol/disco#info"><identity category="client" type="pc"/><feature var="http://jabber.org/protocol/disco#info"/><feature var="urn:xmpp:receipts"/></query></iq>',
  ],
  ['a disco#info answer with nothing hidden crosses as it is', 'alice@example.com/r', 'bob@partner.example/r', `<iq type='result' id='d'><query ${DISCO}><feature var='urn:xmpp:receipts'/></query></iq>`, 'continue'],
  ['a disco#info answer coming in is not changed', 'bob@partner.example/r', 'alice@example.com/r', `<iq type='result' id='d'><query ${DISCO}><feature var='urn:xmpp:jingle:1'/></query></iq>`, 'continue'],
  ['presence to the partner loses its caps: the hash covers hidden features', 'alice@example.com/r', 'bob@partner.example', `<presence><show>away</show>${CAPS}</presence>`, 'transform @ s2s.peering["partner.example"].hide_features: <presence xmlns="jabber:client"><show>away</show></presence>'],
  ['presence from the partner keeps its caps', 'bob@partner.example/r', 'alice@example.com', `<presence>${CAPS}</presence>`, 'continue'],
  ['presence to a domain with nothing hidden keeps its caps', 'alice@example.com/r', 'x@open.example', `<presence>${CAPS}</presence>`, 'continue'],
  ['a Jingle request to the partner is refused', 'alice@example.com/r', 'bob@partner.example/r', "<iq type='set' id='j'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/></iq>", 'reject service-unavailable/cancel @ s2s.peering["partner.example"].hide_features: the feature urn:xmpp:jingle:1 is not offered to or from partner.example (s2s.peering["partner.example"].hide_features)'],
  ['a Jingle request from the partner is refused', 'bob@partner.example/r', 'alice@example.com/r', "<iq type='set' id='j'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/></iq>", 'reject service-unavailable/cancel @ s2s.peering["partner.example"].hide_features: the feature urn:xmpp:jingle:1 is not offered to or from partner.example (s2s.peering["partner.example"].hide_features)'],
  ['a message using a hidden feature is refused', 'alice@example.com/r', 'bob@partner.example', "<message><body>x</body><html xmlns='http://jabber.org/protocol/xhtml-im'/></message>", 'reject service-unavailable/cancel @ s2s.peering["partner.example"].hide_features: the feature http://jabber.org/protocol/xhtml-im is not offered to or from partner.example (s2s.peering["partner.example"].hide_features)'],
  ['refusal: drop drops it silently', 'alice@example.com/r', 'bob@quiet.example', "<iq type='set' id='j'><jingle xmlns='urn:xmpp:jingle:1'/></iq>", 'reject service-unavailable/cancel silent @ s2s.peering["quiet.example"].hide_features: the feature urn:xmpp:jingle:1 is not offered to or from quiet.example (s2s.peering["quiet.example"].hide_features)'],
  ['an error using it still crosses', 'bob@partner.example/r', 'alice@example.com/r', "<iq type='error' id='j'><jingle xmlns='urn:xmpp:jingle:1'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", 'continue'],
  ['a message using none crosses', 'alice@example.com/r', 'bob@partner.example', '<message><body>x</body></message>', 'continue'],
];

for (const [name, from, to, xml, expected] of cases) test(name, () => assert.equal(judge(from, to, xml), expected));
