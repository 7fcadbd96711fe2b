import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Element, NS_CLIENT, el } from './element.ts';
import { HEADER, run } from './parser-fixtures.ts';
import { escapeAttr, escapeText, serialize } from './serialize.ts';

/** Parses one serialized stanza inside a jabber:client stream. */
function reparse(xml: string): Element {
  const outcome = run(HEADER + xml, { limits: { max_depth: 64 } });
  assert.deepEqual(outcome.errors, [], xml);
  assert.equal(outcome.stanzas.length, 1, xml);
  return outcome.stanzas[0];
}

describe('escaping', () => {
  test('text escapes &, <, > and CR', () => {
    assert.equal(escapeText('a & b < c ]]> d\r'), 'a &amp; b &lt; c ]]&gt; d&#13;');
    assert.equal(escapeText('plain'), 'plain');
  });

  test('attribute values escape quotes and whitespace that normalization would change', () => {
    assert.equal(escapeAttr(`<"'&>\t\n\r`), '&lt;&quot;&apos;&amp;&gt;&#9;&#10;&#13;');
  });
});

describe('serialize', () => {
  test('declares xmlns only where the namespace changes', () => {
    const message = el('message', NS_CLIENT, { to: 'a@b' }, el('body', NS_CLIENT, {}, 'hi'), el('x', 'urn:x', {}, el('y', 'urn:x')));
    assert.equal(serialize(message, NS_CLIENT), '<message to="a@b"><body>hi</body><x xmlns="urn:x"><y/></x></message>');
    assert.equal(serialize(message), '<message xmlns="jabber:client" to="a@b"><body>hi</body><x xmlns="urn:x"><y/></x></message>');
  });

  test('undeclares the default namespace for a no-namespace child', () => {
    assert.equal(serialize(el('a', 'urn:a', {}, el('b', '')), 'urn:a'), '<a><b xmlns=""/></a>');
  });

  test('declares a prefix for {namespace}local attributes', () => {
    const element = el('a', NS_CLIENT, { '{urn:p}q': '1', 'xml:lang': 'en' });
    assert.equal(serialize(element, NS_CLIENT), '<a xmlns:ns0="urn:p" ns0:q="1" xml:lang="en"/>');
    assert.deepEqual(reparse(serialize(element, NS_CLIENT)), element);
  });
});

/** Deterministic generator (mulberry32) so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['a', 'body', 'x-y', 'q.r', '_z', 'caf\u00E9', '\u4E2D\u6587', 'n1'];
const NAMESPACES = [NS_CLIENT, NS_CLIENT, 'urn:x', 'http://jabber.org/protocol/caps', '', "urn:'q\"&<"];
const TEXT_PIECES = ['hi', ' ', '&', '<', '>', ']]>', '"', "'", '\t', '\n', '\r', '\u00E9', '\u20AC', '\u{1F600}', '\u{10FFFD}', '&amp;'];
const ATTR_NAMES = ['id', 'to', 'xml:lang', '{urn:p}v', '{urn:q}v', 'data-x'];

function generate(next: () => number, depth: number, ns: string): Element {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const text = () => {
    let value = '';
    const pieces = 1 + Math.floor(next() * 5);
    for (let k = 0; k < pieces; k++) value += pick(TEXT_PIECES);
    return value;
  };
  const xmlns = next() < 0.6 ? ns : pick(NAMESPACES);
  const attrs: Record<string, string> = {};
  const attrCount = Math.floor(next() * 4);
  for (let k = 0; k < attrCount; k++) attrs[pick(ATTR_NAMES)] = next() < 0.2 ? '' : text();
  const children: (Element | string)[] = [];
  const childCount = depth >= 5 ? 0 : Math.floor(next() * 4);
  for (let k = 0; k < childCount; k++) {
    const previousIsText = typeof children[children.length - 1] === 'string';
    if (next() < 0.4 && !previousIsText) children.push(text());
    else children.push(generate(next, depth + 1, xmlns));
  }
  return new Element(pick(NAMES), xmlns, attrs, children);
}

describe('round trip', () => {
  test('parse(serialize(element)) equals the element for generated stanzas', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const element = generate(random(seed), 1, NS_CLIENT);
      const xml = serialize(element, NS_CLIENT);
      assert.deepEqual(reparse(xml), element, `seed ${seed}: ${xml}`);
    }
  });

  test("an attribute whose namespace name holds '}' survives a round trip", () => {
    // A peer may declare any namespace name; the {namespace}local key splits at the last '}'.
    const xml = `<message xmlns:a='}&lt;' a:b='1' xmlns:c='urn:{x}' c:d='2'/>`;
    const parsed = reparse(xml);
    assert.deepEqual(parsed.attrs, { '{}<}b': '1', '{urn:{x}}d': '2' });
    assert.deepEqual(reparse(serialize(parsed, NS_CLIENT)), parsed);
  });

  test('serialize(parse(xml)) parses back to the same model', () => {
    const xml = `<message xmlns:a='urn:a' a:b='1' xml:lang='en'><body>x &amp; &#x1F600; <![CDATA[<y>]]></body><c xmlns='urn:c'><d/></c></message>`;
    const parsed = reparse(xml);
    assert.deepEqual(reparse(serialize(parsed, NS_CLIENT)), parsed);
  });
});
