import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Element, NS_CLIENT } from './element.ts';
import { HEADER, LIMITS, feed, newParser, type Outcome } from './parser-fixtures.ts';
import { XmlStreamParser } from './parser.ts';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Parks the outcome's parser and makes its successor; fails when it cannot park. */
function parkAndResume(outcome: Outcome): void {
  const parked = outcome.parser.park();
  assert.ok(parked, 'the parser parks between stanzas');
  outcome.parser = XmlStreamParser.resume(outcome.handlers, parked);
}

test('a parser parks only between stanzas of an open stream', () => {
  const outcome = newParser();
  assert.equal(outcome.parser.park(), undefined, 'before the stream header');
  feed(outcome.parser, HEADER.slice(0, 20));
  assert.equal(outcome.parser.park(), undefined, 'inside the stream header');
  feed(outcome.parser, HEADER.slice(20));
  assert.ok(outcome.parser.park(), 'after the stream header');
  feed(outcome.parser, "<message><body>caf");
  assert.equal(outcome.parser.park(), undefined, 'inside a stanza');
  feed(outcome.parser, Buffer.from('é</body></message>').subarray(0, 1));
  assert.equal(outcome.parser.park(), undefined, 'inside a stanza, with part of a character held back');
  feed(outcome.parser, Buffer.from('é</body></message>').subarray(1));
  assert.ok(outcome.parser.park(), 'after the stanza');
  assert.equal(outcome.stanzas[0]?.getChildText('body', NS_CLIENT), 'café');
  feed(outcome.parser, '</stream:stream>');
  assert.equal(outcome.parser.park(), undefined, 'after the stream closed');
});

test('a resumed parser reads the stream as the parked one would have: namespaces, content namespace, the root end tag', () => {
  const header = "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='example.com' version='1.0'>";
  const outcome = newParser({ contentNamespace: 'jabber:server' });
  feed(outcome.parser, `${header}<message to='a@example.com'/>`);
  parkAndResume(outcome);
  feed(outcome.parser, "<db:result to='example.com' from='example.net'>key</db:result><presence/>");
  parkAndResume(outcome);
  feed(outcome.parser, '</stream:stream>');
  assert.deepEqual(outcome.errors, []);
  assert.deepEqual(outcome.stanzas, [
    new Element('message', NS_CLIENT, { to: 'a@example.com' }, []),
    new Element('result', 'jabber:server:dialback', { to: 'example.com', from: 'example.net' }, ['key']),
    new Element('presence', NS_CLIENT, {}, []),
  ]);
  assert.equal(outcome.closes, 1);
});

test('a resumed parser still refuses a wrong end tag for the root, and a prefix the root did not declare', () => {
  const wrongEnd = newParser();
  feed(wrongEnd.parser, HEADER);
  parkAndResume(wrongEnd);
  feed(wrongEnd.parser, '</stream:other>');
  assert.equal(wrongEnd.errors[0]?.condition, 'not-well-formed');

  const unbound = newParser();
  feed(unbound.parser, HEADER);
  parkAndResume(unbound);
  feed(unbound.parser, '<db:result/>');
  assert.match(unbound.errors[0]?.message ?? '', /unbound prefix db/);
});

test('a resumed parser keeps the limits in force when it parked, those set after the stream began included', () => {
  const outcome = newParser({ limits: { max_stanza_bytes: 1000 } });
  feed(outcome.parser, HEADER);
  outcome.parser.setLimits({ ...LIMITS, max_stanza_bytes: 100 });
  parkAndResume(outcome);
  feed(outcome.parser, `<message><body>${'x'.repeat(60)}</body></message>`);
  assert.equal(outcome.stanzas.length, 1, 'a stanza within the limit is read');
  parkAndResume(outcome);
  feed(outcome.parser, `<message><body>${'x'.repeat(100)}</body></message>`);
  assert.equal(outcome.errors[0]?.message, 'stanza exceeds max_stanza_bytes (100)');
});

test('a resumed parser restarts its stream (RFC 6120 section 4.3.3) as any other', () => {
  const outcome = newParser();
  feed(outcome.parser, HEADER);
  parkAndResume(outcome);
  outcome.parser.reset();
  feed(outcome.parser, `${HEADER}<presence/>`);
  assert.deepEqual(outcome.errors, []);
  assert.equal(outcome.roots.length, 2);
  assert.equal(outcome.stanzas.length, 1);
});

test('parking wherever it can while bytes arrive one at a time changes nothing of what is read', () => {
  const input = `${HEADER} <message id='1'><body>a &amp; b\r\n</body></message>\n<iq type='get' id='2'><query xmlns='jabber:iq:roster'/></iq><presence><status>héllo ✓</status></presence> </stream:stream>`;
  const plain = newParser();
  feed(plain.parser, input, 1);
  const parking = newParser();
  let parks = 0;
  for (const byte of Buffer.from(input)) {
    feed(parking.parser, Uint8Array.of(byte));
    const parked = parking.parser.park();
    if (parked === undefined) continue;
    parks++;
    parking.parser = XmlStreamParser.resume(parking.handlers, parked);
  }
  assert.deepEqual(parking.errors, []);
  assert.deepEqual(parking.stanzas, plain.stanzas);
  assert.equal(parking.whitespace, plain.whitespace);
  assert.equal(parking.closes, 1);
  assert.ok(parks >= 5, `parked ${parks} times`);
});

/** Weak references to every element below the stanza element, which nothing else keeps. */
function weakDescendants(stanza: Element): WeakRef<Element>[] {
  const refs: WeakRef<Element>[] = [];
  const collect = (element: Element): void => {
    refs.push(new WeakRef(element));
    for (const child of element.elements()) collect(child);
  };
  for (const child of stanza.elements()) collect(child);
  return refs;
}

test('between stanzas the parser keeps no element of the last one, however deep and wide it was', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const outcome = newParser();
  feed(outcome.parser, HEADER);
  // Deeper and with more attributes than the stanza after it, so that what the scratch arrays
  // held for the first one is only cleared if clearing goes as deep as the deepest stanza.
  feed(outcome.parser, "<message><a x='1' y='2' z='3'><b><c><d/></c></b></a></message><presence/>");
  const refs = weakDescendants(outcome.stanzas.shift()!);
  outcome.stanzas.length = 0;
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  assert.deepEqual(refs.map((ref) => ref.deref()?.name), [undefined, undefined, undefined, undefined]);
});
