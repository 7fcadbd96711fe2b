import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { asSasl2, bindResource, readAuthenticate, sasl2Success, tokenElement } from './sasl2.ts';

const read = (xml: string) => readAuthenticate(parseElement(xml));

test('an <authenticate/> is read into what it asks for', () => {
  const request = read(`<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'>
    <initial-response>biwsbj11c2Vy</initial-response>
    <user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>AwesomeXMPP</software><device>Kiva's Phone</device></user-agent>
    <resume xmlns='urn:xmpp:sm:3' previd='abc' h='3'/>
    <bind xmlns='urn:xmpp:bind:0'><tag>AwesomeXMPP</tag><enable xmlns='urn:xmpp:carbons:2'/><enable xmlns='urn:xmpp:sm:3'/><inactive xmlns='urn:xmpp:csi:0'/></bind>
    <request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>
  </authenticate>`);
  assert.ok(typeof request !== 'string');
  assert.equal(request.mechanism, 'SCRAM-SHA-256');
  assert.equal(request.initialResponse, 'biwsbj11c2Vy');
  assert.deepEqual(request.userAgent, { id: 'd4565fa7-4d72-4749-b3d3-740edbf87770', software: 'AwesomeXMPP', device: "Kiva's Phone" });
  assert.equal(request.resume?.attrs.previd, 'abc');
  assert.equal(request.bind?.tag, 'AwesomeXMPP');
  assert.equal(request.bind?.carbons, true);
  assert.equal(request.bind?.streamManagement?.name, 'enable');
  assert.equal(request.bind?.inactive, true);
  assert.equal(request.requestToken, 'HT-SHA-256-NONE');
  assert.equal(request.fast, undefined);
  const token = read(`<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><fast xmlns='urn:xmpp:fast:0' invalidate='1'/></authenticate>`);
  assert.deepEqual(typeof token !== 'string' && token.fast, { invalidate: true });
  assert.equal(typeof read(`<authenticate xmlns='urn:xmpp:sasl:2'/>`), 'string', 'no mechanism');
  assert.equal(typeof read(`<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><user-agent id=''/></authenticate>`), 'string', 'an empty id');
});

test('Bind 2 resources: the tag, then a part stable per account, tag and client, hiding the client id', () => {
  const a = bindResource('alice@example.com', 'Conversations', 'client-1');
  assert.match(a, /^Conversations\/[\w-]{8}$/);
  assert.equal(bindResource('alice@example.com', 'Conversations', 'client-1'), a);
  assert.notEqual(bindResource('alice@example.com', 'Conversations', 'client-2'), a);
  assert.notEqual(bindResource('bob@example.com', 'Conversations', 'client-1'), a);
  assert.ok(!a.includes('client-1'));
  assert.notEqual(bindResource('alice@example.com', undefined, undefined), bindResource('alice@example.com', undefined, undefined), 'random without an id');
});

test('RFC 6120 answers become SASL2 ones; success carries the identity and the inline answers', () => {
  const failure = parseElement(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text xml:lang='en'>bad</text></failure>`);
  assert.equal(serialize(asSasl2(failure)), `<failure xmlns="urn:xmpp:sasl:2"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/><text>bad</text></failure>`);
  const challenge = parseElement(`<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1h</challenge>`);
  assert.equal(serialize(asSasl2(challenge)), `<challenge xmlns="urn:xmpp:sasl:2">cj1h</challenge>`);
  const success = sasl2Success(Buffer.from('v=x'), 'alice@example.com/a/b', [tokenElement('T', Date.UTC(2030, 0, 2, 3, 4, 5, 678))]);
  assert.equal(serialize(success), `<success xmlns="urn:xmpp:sasl:2"><additional-data>dj14</additional-data><authorization-identifier>alice@example.com/a/b</authorization-identifier><token xmlns="urn:xmpp:fast:0" token="T" expiry="2030-01-02T03:04:05Z"/></success>`);
});
