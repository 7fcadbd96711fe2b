import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElement } from './parse-element.ts';
import { serialize } from './serialize.ts';
import { StanzaError, errorReply } from './stanza-error.ts';

const IQ = "<iq xmlns='jabber:client' from='a@example.com/r' to='example.com' id='1' type='get'><query xmlns='urn:example'/></iq>";
const MESSAGE = "<message xmlns='jabber:client' from='a@example.com/r' to='b@example.com' id='2' type='chat'><body>hi</body></message>";

test('an error reply swaps the addresses, keeps the id, and carries the condition, its text and the legacy code', () => {
  const reply = errorReply(parseElement(IQ), new StanzaError('item-not-found', 'no such node'))!;
  assert.equal(
    serialize(reply),
    `<iq xmlns="jabber:client" from="example.com" to="a@example.com/r" id="1" type="error"><error type="cancel" code="404"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">no such node</text></error></iq>`,
  );
});

test('XEP-0086 section 3: each condition it maps has its legacy code; policy-violation, which came later, has none', () => {
  const codes: [ConstructorParameters<typeof StanzaError>[0], string | undefined][] = [
    ['bad-request', '400'],
    ['not-authorized', '401'],
    ['forbidden', '403'],
    ['item-not-found', '404'],
    ['remote-server-not-found', '404'],
    ['not-allowed', '405'],
    ['not-acceptable', '406'],
    ['registration-required', '407'],
    ['conflict', '409'],
    ['internal-server-error', '500'],
    ['resource-constraint', '500'],
    ['feature-not-implemented', '501'],
    ['service-unavailable', '503'],
    ['remote-server-timeout', '504'],
    ['policy-violation', undefined],
  ];
  for (const [condition, code] of codes) {
    const error = errorReply(parseElement(MESSAGE), new StanzaError(condition))!.getChild('error')!;
    assert.equal(error.attrs.code, code, condition);
  }
});

test('a message bounced keeps its payload; an error or a result is never answered', () => {
  assert.match(serialize(errorReply(parseElement(MESSAGE), new StanzaError('service-unavailable'))!), /<body>hi<\/body><error type="cancel" code="503">/);
  assert.equal(errorReply(parseElement(MESSAGE.replace("type='chat'", "type='error'")), new StanzaError('service-unavailable')), undefined);
  assert.equal(errorReply(parseElement(IQ.replace("type='get'", "type='result'")), new StanzaError('service-unavailable')), undefined);
});
