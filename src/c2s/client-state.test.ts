import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElement } from '../xml/parse-element.ts';
import { HeldStanzas, holdKey } from './client-state.ts';

const stanza = (xml: string) => parseElement(xml.replace(/^<(\w+)/, "<$1 xmlns='jabber:client'"));

describe('what an inactive client waits for (XEP-0352)', () => {
  test('presence updates are held under their sender: a later one replaces an earlier one', () => {
    assert.equal(holdKey(stanza("<presence from='a@x/1'><show>away</show></presence>")), 'presence a@x/1');
    assert.equal(holdKey(stanza("<presence from='a@x/1' type='unavailable'/>")), 'presence a@x/1');
    assert.notEqual(holdKey(stanza("<presence from='a@x/2'/>")), holdKey(stanza("<presence from='a@x/1'/>")));
  });

  test('subscription requests, probes, errors and a room joining completes go out at once', () => {
    for (const type of ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error']) {
      assert.equal(holdKey(stanza(`<presence from='a@x' type='${type}'/>`)), undefined, type);
    }
    const selfPresence = "<presence from='room@muc/me'><x xmlns='http://jabber.org/protocol/muc#user'><item role='participant'/><status code='110'/></x></presence>";
    assert.equal(holdKey(stanza(selfPresence)), undefined);
    const otherOccupant = "<presence from='room@muc/you'><x xmlns='http://jabber.org/protocol/muc#user'><item role='participant'/></x></presence>";
    assert.equal(holdKey(stanza(otherOccupant)), 'presence room@muc/you');
  });

  test('chat states wait, per conversation; messages with a body, IQs and errors do not', () => {
    const composing = "<message from='a@x/1' to='b@x/2' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/><no-store xmlns='urn:xmpp:hints'/></message>";
    assert.equal(holdKey(stanza(composing)), 'chat-state a@x/1 b@x/2');
    assert.equal(holdKey(stanza("<message from='a@x/1' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>")), undefined);
    assert.equal(holdKey(stanza("<message from='a@x/1' type='error'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")), undefined);
    assert.equal(holdKey(stanza("<iq from='x' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>")), undefined);
  });

  test('a carbon of a chat state waits like the chat state; a carbon of a message does not', () => {
    const carbon = (inner: string) =>
      `<message from='b@x' to='b@x/2' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='a@x/1' to='b@x/1' type='chat'>${inner}</message></forwarded></received></message>`;
    assert.equal(holdKey(stanza(carbon("<paused xmlns='http://jabber.org/protocol/chatstates'/>"))), 'chat-state a@x/1 b@x/1');
    assert.equal(holdKey(stanza(carbon('<body>hi</body>'))), undefined);
  });
});

describe('held stanzas', () => {
  const held = (text: string) => ({ element: stanza(`<presence><status>${text}</status></presence>`), xml: `<presence>${text}</presence>` });

  test('keep the order in which their latest versions arrived, and count their characters', () => {
    const buffer = new HeldStanzas();
    buffer.put('a', held('a1'));
    buffer.put('b', held('b1'));
    const replaced = buffer.put('a', held('a22'));
    assert.equal(replaced?.xml, '<presence>a1</presence>');
    assert.equal(buffer.size, 2);
    assert.equal(buffer.chars, '<presence>b1</presence>'.length + '<presence>a22</presence>'.length);
    assert.deepEqual(buffer.drain().map((entry) => entry.xml), ['<presence>b1</presence>', '<presence>a22</presence>']);
    assert.equal(buffer.size, 0);
    assert.equal(buffer.chars, 0);
  });
});
