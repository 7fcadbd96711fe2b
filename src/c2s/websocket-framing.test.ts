import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElement } from '../xml/parse-element.ts';
import { classifyFrame, closeFrame, OutboundFramer, streamHeaderFor } from './websocket-framing.ts';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';

describe('RFC 7395 framing: what a client sends', () => {
  test('<open/> and <close/> in the framing namespace stand for the stream header and its end', () => {
    const open = classifyFrame(`<open xmlns="${FRAMING}" to="example.com" version="1.0"/>`);
    assert.deepEqual(open, { kind: 'open', attrs: { xmlns: FRAMING, to: 'example.com', version: '1.0' } });
    assert.equal(streamHeaderFor(open.kind === 'open' ? open.attrs : {}), "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>");
    assert.deepEqual(classifyFrame(`<?xml version='1.0'?> <close xmlns='${FRAMING}'/>`), { kind: 'close' });
    assert.equal(classifyFrame("<open xmlns='jabber:client'/>").kind, 'element');
  });

  test('a frame carries exactly one complete element (section 3.3.3)', () => {
    assert.equal(classifyFrame("<message xmlns='jabber:client' to='a@b'><body>x &gt; y</body></message>").kind, 'element');
    assert.equal(classifyFrame("<iq xmlns='jabber:client' type='get' id='a>b'/>").kind, 'element');
    assert.equal(classifyFrame(' \n ').kind, 'whitespace');
    for (const bad of ["<message xmlns='jabber:client'><body>half", "<presence xmlns='jabber:client'/><presence xmlns='jabber:client'/>", 'hello', '</message>', "<presence xmlns='jabber:client'/>trailing"]) {
      assert.equal(classifyFrame(bad).kind, 'invalid', bad);
    }
    const stream = classifyFrame("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' to='x'></stream:stream>");
    assert.equal(stream.kind, 'invalid');
    assert.match(stream.kind === 'invalid' ? stream.reason : '', /<open/);
  });
});

describe('RFC 7395 framing: what the server writes', () => {
  test('the stream header becomes <open/>, each top-level element a frame with its namespaces, the end <close/>', () => {
    const framer = new OutboundFramer();
    const frames = framer.push(
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='abc' version='1.0' xml:lang='en'>" +
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>" +
        "<message to='a@example.com' id='x&gt;'><body>1 &lt; 2</body></message><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" +
        '</stream:stream>',
    );
    assert.deepEqual(frames, [
      `<open xmlns='${FRAMING}' from='example.com' id='abc' version='1.0' xml:lang='en'/>`,
      "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
      "<message xmlns='jabber:client' to='a@example.com' id='x&gt;'><body>1 &lt; 2</body></message>",
      "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
      closeFrame(),
    ]);
    // A stream restart (after SASL) sends a new header while the old stream is open.
    const restarted = new OutboundFramer();
    restarted.push("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='1'><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert.deepEqual(restarted.push("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='2'><stream:features/>"), [
      `<open xmlns='${FRAMING}' id='2'/>`,
      "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
    ]);
    // Every frame is a document of its own.
    for (const frame of frames) assert.ok(parseElement(frame));
  });

  test('an element written in pieces leaves in one frame once it is complete', () => {
    const framer = new OutboundFramer();
    assert.equal(framer.push("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='1'>").length, 1);
    assert.deepEqual(framer.push("<message><body>one <b xmlns='x'>"), []);
    assert.deepEqual(framer.push("bold</b></bo"), []);
    assert.deepEqual(framer.push("dy></message><presence type='unav"), ["<message xmlns='jabber:client'><body>one <b xmlns='x'>bold</b></body></message>"]);
    assert.deepEqual(framer.push("ailable'/>"), ["<presence xmlns='jabber:client' type='unavailable'/>"]);
    assert.equal(framer.pending, 0);
  });
});
