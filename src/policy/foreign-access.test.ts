import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ForeignAccessRules } from '../config/types.ts';
import { parseElement } from '../xml/parse-element.ts';
import { ForeignAccess, stanzaFacts } from './foreign-access.ts';
import { FEATURE_GROUP_NAMES, FEATURE_GROUPS } from './foreign-groups.ts';

/** Stanzas as they arrive from another server (content namespace jabber:client inside the router). */
const S = {
  chat: "<message type='chat'><body>hi</body></message>",
  normal: '<message><body>hi</body></message>',
  chatState: "<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
  groupchat: "<message type='groupchat'><body>room talk</body></message>",
  mucInvite: "<message><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@b'/></x></message>",
  directInvite: "<message><x xmlns='jabber:x:conference' jid='room@muc.example'/></message>",
  mucJoin: "<presence><x xmlns='http://jabber.org/protocol/muc'/></presence>",
  presence: "<presence><show>away</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/><x xmlns='vcard-temp:x:update'/></presence>",
  subscribe: "<presence type='subscribe'/>",
  unsubscribed: "<presence type='unsubscribed'/>",
  probe: "<presence type='probe'/>",
  siOffer: "<iq type='set' id='1'><si xmlns='http://jabber.org/protocol/si' profile='http://jabber.org/protocol/si/profile/file-transfer'><file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='a' size='1'/></si></iq>",
  bytestreams: "<iq type='set' id='2'><query xmlns='http://jabber.org/protocol/bytestreams' sid='s'/></iq>",
  ibbOpen: "<iq type='set' id='3'><open xmlns='http://jabber.org/protocol/ibb' block-size='4096' sid='s'/></iq>",
  ibbMessage: "<message><data xmlns='http://jabber.org/protocol/ibb' sid='s' seq='0'>AAAA</data></message>",
  jingleFile: "<iq type='set' id='4'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='j'><content creator='initiator' name='f'><description xmlns='urn:xmpp:jingle:apps:file-transfer:5'/><transport xmlns='urn:xmpp:jingle:transports:s5b:1'/></content></jingle></iq>",
  jingleCall: "<iq type='set' id='5'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='c'><content creator='initiator' name='voice'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'/></content></jingle></iq>",
  jingleTerminate: "<iq type='set' id='6'><jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='c'><reason><success/></reason></jingle></iq>",
  callPropose: "<message><propose xmlns='urn:xmpp:jingle-message:0' id='p'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose></message>",
  upload: "<iq type='get' id='7'><request xmlns='urn:xmpp:http:upload:0' filename='a.png' size='1'/></iq>",
  ping: "<iq type='get' id='8'><ping xmlns='urn:xmpp:ping'/></iq>",
  version: "<iq type='get' id='9'><query xmlns='jabber:iq:version'/></iq>",
  discoInfo: "<iq type='get' id='10'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
  vcard: "<iq type='get' id='11'><vCard xmlns='vcard-temp'/></iq>",
  pubsub: "<iq type='set' id='12'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'/></pubsub></iq>",
  pepEvent: "<message><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'/></event></message>",
  iqResult: "<iq type='result' id='13'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
  iqError: "<iq type='error' id='14'><si xmlns='http://jabber.org/protocol/si'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
  messageError: "<message type='error'><body>hi</body><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
  oobLink: "<message type='chat'><body>https://files.example/a.png</body><x xmlns='jabber:x:oob'><url>https://files.example/a.png</url></x></message>",
  receiptChat: "<message type='chat'><body>hi</body><request xmlns='urn:xmpp:receipts'/></message>",
  headline: "<message type='headline'><body>news</body></message>",
} as const;

type StanzaName = keyof typeof S;

function stanza(name: StanzaName) {
  const xml = S[name];
  // Put every stanza in jabber:client, as the router sees it.
  return parseElement(xml.replace(/^<(message|presence|iq)/, "<$1 xmlns='jabber:client' from='x@remote.example/r' to='u@local.example'"));
}

function rules(partial: Partial<ForeignAccessRules>): ForeignAccessRules {
  return { default: 'allow', deny: [], allow: [], ...partial };
}

describe('feature groups match the stanzas they name', () => {
  const membership: Record<(typeof FEATURE_GROUP_NAMES)[number], StanzaName[]> = {
    message: [],
    presence: [],
    iq: [],
    chat: ['chat', 'normal', 'oobLink', 'receiptChat'],
    groupchat: ['groupchat', 'mucInvite', 'directInvite', 'mucJoin'],
    'presence-subscription': ['subscribe', 'unsubscribed'],
    'file-transfer': ['siOffer', 'bytestreams', 'ibbOpen', 'ibbMessage', 'jingleFile', 'upload', 'iqError'],
    jingle: ['jingleCall', 'callPropose'],
    pubsub: ['pubsub', 'pepEvent'],
    vcard: ['vcard'],
    version: ['version'],
    disco: ['discoInfo', 'iqResult'],
  };
  /** whole kinds: every stanza of theirs (groups do not look at the type; results and errors pass before groups are asked) */
  const kinds = ['message', 'presence', 'iq'];
  for (const group of FEATURE_GROUP_NAMES) {
    test(group, () => {
      for (const name of Object.keys(S) as StanzaName[]) {
        const expected = membership[group].includes(name) || (kinds.includes(group) && S[name].startsWith(`<${group}`));
        assert.equal(FEATURE_GROUPS[group].matches(stanzaFacts(stanza(name))), expected, `${group} vs ${name}`);
      }
    });
  }
});

describe('foreign access decisions', () => {
  const cases: { name: string; rules: Partial<ForeignAccessRules>; stanza: StanzaName; refused?: [condition: string, rule: string] }[] = [
    { name: 'default allow accepts anything', rules: {}, stanza: 'siOffer' },
    { name: 'default deny refuses what nothing allows', rules: { default: 'deny' }, stanza: 'chat', refused: ['not-allowed', 'default deny'] },
    { name: 'default deny: an IQ gets service-unavailable', rules: { default: 'deny' }, stanza: 'ping', refused: ['service-unavailable', 'default deny'] },
    { name: 'default deny with chat allowed', rules: { default: 'deny', allow: ['chat'] }, stanza: 'chat' },
    { name: 'default deny with a namespace allowed', rules: { default: 'deny', allow: ['urn:xmpp:ping'] }, stanza: 'ping' },
    { name: 'denied group refuses an IQ with service-unavailable', rules: { deny: ['file-transfer'] }, stanza: 'siOffer', refused: ['service-unavailable', 'deny "file-transfer"'] },
    { name: 'denied group refuses a message with not-allowed', rules: { deny: ['file-transfer'] }, stanza: 'ibbMessage', refused: ['not-allowed', 'deny "file-transfer"'] },
    { name: 'Jingle file transfer is file-transfer', rules: { deny: ['file-transfer'] }, stanza: 'jingleFile', refused: ['service-unavailable', 'deny "file-transfer"'] },
    { name: 'a Jingle call is not file-transfer', rules: { deny: ['file-transfer'] }, stanza: 'jingleCall' },
    { name: 'calls denied', rules: { deny: ['jingle'] }, stanza: 'callPropose', refused: ['not-allowed', 'deny "jingle"'] },
    { name: 'groupchat denied, chat still passes', rules: { deny: ['groupchat'] }, stanza: 'chat' },
    { name: 'groupchat denied: the room message', rules: { deny: ['groupchat'] }, stanza: 'groupchat', refused: ['not-allowed', 'deny "groupchat"'] },
    { name: 'groupchat denied: join presence is refused (and then dropped)', rules: { deny: ['groupchat'] }, stanza: 'mucJoin', refused: ['not-allowed', 'deny "groupchat"'] },
    { name: 'subscriptions denied, plain presence passes', rules: { deny: ['presence-subscription'] }, stanza: 'presence' },
    { name: 'subscriptions denied', rules: { deny: ['presence-subscription'] }, stanza: 'subscribe', refused: ['not-allowed', 'deny "presence-subscription"'] },
    { name: 'vcard denied does not touch the avatar hash in presence', rules: { deny: ['vcard'] }, stanza: 'presence' },
    { name: 'a raw namespace denied', rules: { deny: ['urn:xmpp:ping'] }, stanza: 'ping', refused: ['service-unavailable', 'deny "urn:xmpp:ping"'] },
    { name: 'a raw namespace denied leaves other IQs', rules: { deny: ['urn:xmpp:ping'] }, stanza: 'version' },
    { name: 'a namespace allow beats a group deny', rules: { deny: ['file-transfer'], allow: ['http://jabber.org/protocol/ibb'] }, stanza: 'ibbOpen' },
    { name: 'the namespace allow leaves the rest of the group denied', rules: { deny: ['file-transfer'], allow: ['http://jabber.org/protocol/ibb'] }, stanza: 'bytestreams', refused: ['service-unavailable', 'deny "file-transfer"'] },
    { name: 'a group allow beats a kind deny', rules: { deny: ['iq'], allow: ['disco'] }, stanza: 'discoInfo' },
    { name: 'a namespace allow beats a kind deny', rules: { deny: ['iq'], allow: ['urn:xmpp:ping'] }, stanza: 'ping' },
    { name: 'the kind deny refuses the other IQs', rules: { deny: ['iq'], allow: ['urn:xmpp:ping'] }, stanza: 'version', refused: ['service-unavailable', 'deny "iq"'] },
    { name: 'a less specific allow does not beat a deny', rules: { deny: ['urn:xmpp:ping'], allow: ['iq'] }, stanza: 'ping', refused: ['service-unavailable', 'deny "urn:xmpp:ping"'] },
    { name: 'equally specific: deny wins', rules: { deny: ['jabber:x:oob'], allow: ['urn:xmpp:receipts'] }, stanza: 'oobLink', refused: ['not-allowed', 'deny "jabber:x:oob"'] },
    { name: 'equally specific groups: deny wins', rules: { deny: ['file-transfer'], allow: ['message'] }, stanza: 'ibbMessage', refused: ['not-allowed', 'deny "file-transfer"'] },
    { name: 'an explicit deny beats default allow; explicit allow beats default deny', rules: { default: 'deny', allow: ['message'], deny: ['chat'] }, stanza: 'headline' },
    { name: 'IQ results always pass', rules: { default: 'deny', deny: ['iq', 'disco'] }, stanza: 'iqResult' },
    { name: 'IQ errors always pass', rules: { default: 'deny', deny: ['file-transfer'] }, stanza: 'iqError' },
    { name: 'message errors always pass', rules: { default: 'deny', deny: ['chat'] }, stanza: 'messageError' },
  ];
  for (const { name, rules: partial, stanza: which, refused } of cases) {
    test(name, () => {
      const verdict = new ForeignAccess(rules(partial)).judge(stanza(which));
      if (refused === undefined) return assert.equal(verdict.kind, 'continue');
      assert.equal(verdict.kind, 'reject');
      if (verdict.kind !== 'reject') return;
      // The written rule `deny "x"` is the entry at its index in the deny list.
      const [condition, written] = refused;
      const entry = /^deny "(.*)"$/.exec(written)?.[1];
      const at = entry === undefined ? 'foreign_access.default' : `foreign_access.deny[${partial.deny!.indexOf(entry)}]`;
      assert.deepEqual([verdict.condition, verdict.rule], [condition, at]);
      assert.equal(verdict.text, `not accepted from other servers here (${at} = ${entry === undefined ? 'deny' : JSON.stringify(entry)})`);
      assert.equal(verdict.silent, S[which].startsWith('<presence'), 'refused presence is dropped without an error');
    });
  }

  test('what lets a stanza in is named too: the allowing entry, else the default', () => {
    const access = new ForeignAccess(rules({ deny: ['iq'], allow: ['version', 'urn:xmpp:ping'] }));
    assert.equal(access.judge(stanza('ping')).rule, 'foreign_access.allow[1]');
    assert.equal(access.judge(stanza('chat')).rule, 'foreign_access.default');
    assert.equal(access.judge(stanza('iqResult')).kind, 'continue');
  });

  test("a host's own keys are named under its section", () => {
    const keys = { default: 'foreign_access.default', deny: 'hosts["lab.example"].foreign_access.deny', allow: 'foreign_access.allow' };
    const verdict = new ForeignAccess(rules({ deny: ['chat', 'version'] }), keys).judge(stanza('version'));
    assert.equal(verdict.rule, 'hosts["lab.example"].foreign_access.deny[1]');
  });
});
