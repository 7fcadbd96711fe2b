import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElement } from '../../xml/parse-element.ts';
import { isCarbonEligible } from './eligibility.ts';

const message = (xml: string) => parseElement(xml.replace('<message', "<message xmlns='jabber:client'"));

describe('which messages are carbon-copied (XEP-0280 section 6)', () => {
  const cases: { name: string; xml: string; sent: boolean; received: boolean }[] = [
    { name: 'chat with a body', xml: "<message type='chat'><body>hi</body></message>", sent: true, received: true },
    { name: 'chat with only a chat state', xml: "<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", sent: true, received: true },
    { name: 'normal with a body', xml: '<message><body>hi</body></message>', sent: true, received: true },
    { name: 'normal without a body', xml: "<message><x xmlns='jabber:x:conference' jid='room@conference.example'/></message>", sent: false, received: false },
    { name: 'groupchat', xml: "<message type='groupchat'><body>hi</body></message>", sent: false, received: false },
    { name: 'headline', xml: "<message type='headline'><body>news</body></message>", sent: false, received: false },
    { name: 'error', xml: "<message type='error'><body>hi</body><error type='cancel'/></message>", sent: false, received: false },
    { name: 'private (section 8)', xml: "<message type='chat'><body>hi</body><private xmlns='urn:xmpp:carbons:2'/></message>", sent: false, received: false },
    { name: 'no-copy hint (XEP-0334)', xml: "<message type='chat'><body>hi</body><no-copy xmlns='urn:xmpp:hints'/></message>", sent: false, received: false },
    {
      name: 'a carbon itself',
      xml: "<message type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat'><body>hi</body></message></forwarded></received></message>",
      sent: false,
      received: false,
    },
    { name: 'a private message in a room: copied when sent, not when received', xml: "<message type='chat'><body>psst</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>", sent: true, received: false },
  ];
  for (const { name, xml, sent, received } of cases) {
    test(name, () => {
      assert.equal(isCarbonEligible(message(xml), 'sent'), sent, 'sent');
      assert.equal(isCarbonEligible(message(xml), 'received'), received, 'received');
    });
  }
});
