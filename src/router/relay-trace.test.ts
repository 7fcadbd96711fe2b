import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from '../xml/serialize.ts';
import { NS_CLIENT } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { el } from '../xml/element.ts';
import { announcesRelayTrace, relayTraceFeature, stampRelayTrace, takeRelayTrace } from './relay-trace.ts';

describe('relay trace', () => {
  test('stamped, then taken off with its hops in order', () => {
    const stanza = parseElement("<message xmlns='jabber:client' to='b@b.example'><body>hi</body></message>");
    stampRelayTrace(stanza, ['centre.example', 'edge.example']);
    assert.match(serialize(stanza, NS_CLIENT), /<relayed xmlns="urn:xmpp:trellis:relay:0"><hop by="centre.example"\/><hop by="edge.example"\/><\/relayed>/);
    assert.deepEqual(takeRelayTrace(stanza), ['centre.example', 'edge.example']);
    assert.equal(serialize(stanza, NS_CLIENT), '<message to="b@b.example"><body>hi</body></message>');
  });

  test('every copy goes, and a trace longer than any limit is read only so far', () => {
    const hops = Array.from({ length: 100 }, (_, i) => `<hop by='H${i}.example'/>`).join('');
    const stanza = parseElement(`<message xmlns='jabber:client'><relayed xmlns='urn:xmpp:trellis:relay:0'>${hops}</relayed><relayed xmlns='urn:xmpp:trellis:relay:0'><hop/></relayed><body>x</body></message>`);
    const read = takeRelayTrace(stanza);
    assert.equal(read.length, 65);
    assert.equal(read[0], 'h0.example');
    assert.equal(stanza.elements().length, 1);
  });

  test('a server announces it keeps the trace in its features; features without it do not', () => {
    const features = el('features', 'http://etherx.jabber.org/streams', {}, el('starttls', 'urn:ietf:params:xml:ns:xmpp-tls'), relayTraceFeature());
    assert.equal(announcesRelayTrace(features), true);
    assert.equal(announcesRelayTrace(el('features', 'http://etherx.jabber.org/streams', {}, el('trace', 'urn:example:other'))), false);
  });
});
