import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Element, NS_CLIENT, NS_SERVER, NS_STREAMS, NS_XML } from './element.ts';
import { HEADER, LIMITS, conditionOf, feed, newParser, run } from './parser-fixtures.ts';
import { MAX_NAME_BYTES, MAX_STREAM_HEADER_BYTES, XmlStreamParser } from './parser.ts';

describe('stream structure', () => {
  test('delivers the root, each stanza and the close', () => {
    const outcome = run(
      `<?xml version='1.0' encoding='UTF-8'?>${HEADER}<message to='a@example.com'><body>hi</body></message><presence/></stream:stream>`,
    );
    assert.deepEqual(outcome.errors, []);
    assert.equal(outcome.roots.length, 1);
    const root = outcome.roots[0];
    assert.equal(root.name, 'stream');
    assert.equal(root.xmlns, NS_STREAMS);
    assert.deepEqual(root.attrs, { to: 'example.com', version: '1.0' });
    assert.deepEqual(root.children, []);
    assert.deepEqual(outcome.declarations[0], { '': NS_CLIENT, stream: NS_STREAMS });
    assert.deepEqual(outcome.stanzas, [
      new Element('message', NS_CLIENT, { to: 'a@example.com' }, [new Element('body', NS_CLIENT, {}, ['hi'])]),
      new Element('presence', NS_CLIENT, {}, []),
    ]);
    assert.equal(outcome.closes, 1);
  });

  test('coalesces text, references and CDATA into one text child', () => {
    const outcome = run(`${HEADER}<message><body>a &amp; b<![CDATA[ <c> ]]>&#x1F600;d</body></message>`);
    assert.deepEqual(outcome.stanzas[0].getChild('body')?.children, ['a & b <c> \u{1F600}d']);
  });

  test('keeps whitespace text inside stanzas', () => {
    const outcome = run(`${HEADER}<message>\n  <body> x </body>\n</message>`);
    assert.deepEqual(outcome.stanzas[0].children, ['\n  ', new Element('body', NS_CLIENT, {}, [' x ']), '\n']);
  });

  test('normalizes line ends in text and whitespace in attribute values', () => {
    const outcome = run(`${HEADER}<message id='a\tb\r\nc'><body>1\r\n2\r3&#13;</body></message>`, { chunkSize: 1 });
    assert.equal(outcome.stanzas[0].attrs.id, 'a b c');
    assert.equal(outcome.stanzas[0].getChildText('body'), '1\n2\n3\r');
  });

  test('calls whitespace for keepalives between stanzas only', () => {
    const outcome = run(`${HEADER} <presence/>\n\n<presence> </presence> `);
    assert.equal(outcome.whitespace, 3);
  });

  test('a self-closing root opens and closes the stream', () => {
    const outcome = run(`<stream:stream xmlns:stream='${NS_STREAMS}'/>`);
    assert.equal(outcome.roots.length, 1);
    assert.equal(outcome.closes, 1);
  });

  test('accepts a byte order mark and whitespace after the stream close', () => {
    const outcome = run(`\uFEFF${HEADER}</stream:stream>\n `);
    assert.deepEqual(outcome.errors, []);
    assert.equal(outcome.closes, 1);
  });

  test('ignores whatever follows the stream close (RFC 6120 section 4.4)', () => {
    for (const after of ["<a xmlns='urn:xmpp:sm:3' h='3'/>", 'x', `<stream:stream xmlns:stream='${NS_STREAMS}'>`, '<message><bo']) {
      const outcome = run(`${HEADER}<presence/></stream:stream>${after}`);
      assert.deepEqual([outcome.errors, outcome.stanzas.length, outcome.closes], [[], 1, 1], after);
    }
  });

  test('end() stops without reporting an unclosed stream', () => {
    const outcome = run(`${HEADER}<message><bo`);
    outcome.parser.end();
    feed(outcome.parser, '<garbage');
    assert.deepEqual(outcome.errors, []);
    assert.equal(outcome.stanzas.length, 0);
  });
});

describe('namespaces', () => {
  test('resolves prefixes declared on the root and on stanzas', () => {
    const outcome = run(
      `<stream:stream xmlns='jabber:server' xmlns:stream='${NS_STREAMS}' xmlns:db='jabber:server:dialback'>` +
        `<db:result from='a' to='b'>key</db:result><x:y xmlns:x='urn:x' xmlns='urn:d'><z/><x:w/></x:y>`,
    );
    assert.deepEqual(outcome.errors, []);
    const [result, y] = outcome.stanzas;
    assert.equal(result.name, 'result');
    assert.equal(result.xmlns, 'jabber:server:dialback');
    assert.equal(y.name, 'y');
    assert.equal(y.xmlns, 'urn:x');
    assert.deepEqual(
      y.children.map((child) => (child as Element).xmlns),
      ['urn:d', 'urn:x'],
    );
    assert.equal(outcome.declarations[0].db, 'jabber:server:dialback');
  });

  test('maps the content namespace to jabber:client, stanza and descendants', () => {
    const outcome = run(
      `<stream:stream xmlns='jabber:server' xmlns:stream='${NS_STREAMS}'><message><body>x</body><ext xmlns='urn:e'/></message>`,
      { contentNamespace: NS_SERVER },
    );
    const message = outcome.stanzas[0];
    assert.equal(message.xmlns, NS_CLIENT);
    assert.equal(message.getChild('body')?.xmlns, NS_CLIENT);
    assert.equal(message.getChild('ext', 'urn:e')?.xmlns, 'urn:e');
    assert.equal(outcome.roots[0].xmlns, NS_STREAMS);
  });

  test('xml: is bound implicitly and keeps its prefix on attributes', () => {
    const outcome = run(`${HEADER}<message xml:lang='en'><body xml:lang='de'>x</body></message>`);
    assert.equal(outcome.stanzas[0].attrs['xml:lang'], 'en');
    assert.equal(outcome.stanzas[0].getChild('body')?.attrs['xml:lang'], 'de');
  });

  test('other prefixed attributes are keyed {namespace}local', () => {
    const outcome = run(`${HEADER}<message xmlns:a='urn:a' a:b='1'/>`);
    assert.deepEqual(outcome.stanzas[0].attrs, { '{urn:a}b': '1' });
  });

  test('xmlns="" undeclares the default namespace', () => {
    const outcome = run(`${HEADER}<message><x xmlns=''/></message>`);
    assert.equal(outcome.stanzas[0].elements()[0].xmlns, '');
  });

  const rejections: [string, string][] = [
    ['unbound element prefix', '<foo:bar/>'],
    ['unbound attribute prefix', "<message foo:bar='1'/>"],
    ['duplicate attribute', "<message to='a' to='b'/>"],
    ['duplicate attribute after namespace resolution', "<message xmlns:a='urn:x' xmlns:b='urn:x' a:c='1' b:c='2'/>"],
    ['duplicate xmlns', "<message xmlns='a' xmlns='b'/>"],
    ['prefix undeclaration', "<message xmlns:a=''/>"],
    ['xml prefix rebound', "<message xmlns:xml='urn:other'/>"],
    ['xml namespace bound to another prefix', `<message xmlns:x='${NS_XML}'/>`],
    ['xmlns prefix declared', "<message xmlns:xmlns='urn:x'/>"],
    ['empty prefix', "<:message/>"],
    ['two colons in a name', "<a:b:c xmlns:a='urn:a'/>"],
  ];
  for (const [what, body] of rejections) {
    test(`rejects ${what} as not-well-formed`, () => {
      assert.equal(conditionOf(body), 'not-well-formed');
    });
  }
});

describe('restricted XML (RFC 6120 section 11.1)', () => {
  const cases: [string, string][] = [
    ['a comment', '<!-- hi -->'],
    ['a comment inside a stanza', '<message><!-- hi --></message>'],
    ['a processing instruction', "<?foo bar?>"],
    ['an XML declaration after the start', "<?xml version='1.0'?>"],
    ['a DOCTYPE', '<!DOCTYPE foo>'],
    ['an entity declaration', '<!ENTITY x "y">'],
    ['an undeclared entity reference', '<message><body>&nbsp;</body></message>'],
    ['an entity reference in an attribute', "<message id='&foo;'/>"],
  ];
  for (const [what, body] of cases) {
    test(`rejects ${what}`, () => {
      assert.equal(conditionOf(body), 'restricted-xml');
    });
  }

  test('rejects a DOCTYPE before the root', () => {
    assert.equal(run(`<!DOCTYPE stream>${HEADER}`).errors[0]?.condition, 'restricted-xml');
  });

  test('rejects a processing instruction before the root', () => {
    assert.equal(run(`<?xml-stylesheet href='x'?>${HEADER}`).errors[0]?.condition, 'restricted-xml');
  });
});

describe('XML declaration', () => {
  test('accepts the usual forms', () => {
    for (const declaration of ["<?xml version='1.0'?>", '<?xml version="1.0" encoding="utf-8" standalone="yes" ?>']) {
      assert.deepEqual(run(declaration + HEADER).errors, [], declaration);
    }
  });

  test('rejects a declared encoding other than UTF-8', () => {
    assert.equal(run(`<?xml version='1.0' encoding='ISO-8859-1'?>${HEADER}`).errors[0]?.condition, 'not-well-formed');
  });

  test('rejects a malformed declaration', () => {
    assert.equal(run(`<?xml encoding='UTF-8'?>${HEADER}`).errors[0]?.condition, 'not-well-formed');
  });

  test('rejects a declaration after leading whitespace (XML 1.0 section 2.8)', () => {
    assert.equal(run(` <?xml version='1.0'?>${HEADER}`).errors[0]?.condition, 'restricted-xml');
  });
});

describe('well-formedness', () => {
  const cases: [string, string | Uint8Array][] = [
    ['a mismatched end tag', '<message></presence>'],
    ['a mismatched nested end tag', '<message><body></message></body>'],
    ["'<' in an attribute value", "<message id='a<b'/>"],
    ['an unquoted attribute', '<message id=a/>'],
    ['an attribute without a value', '<message id/>'],
    ['attributes not separated by whitespace', "<message id='a'to='b'/>"],
    ['a stray &', '<message><body>a & b</body></message>'],
    ['an unterminated reference', '<message><body>&amp</body></message>'],
    ["']]>' in text", '<message><body>a]]>b</body></message>'],
    ['text between stanzas', 'hello<message/>'],
    ['a reference between stanzas', '&amp;'],
    ['CDATA between stanzas', '<![CDATA[ ]]>'],
    ["'<!' not starting CDATA", '<message><!foo></message>'],
    ['a name starting with a digit', '<1message/>'],
    ["'/' not followed by '>'", '<message/ >'],
    ['garbage in an end tag', '<message></message x>'],
    ['a character reference to U+0000', '<message><body>&#0;</body></message>'],
    ['a character reference to a surrogate', '<message><body>&#xD800;</body></message>'],
    ['a character reference above U+10FFFF', '<message><body>&#x110000;</body></message>'],
    ['a malformed character reference', '<message><body>&#x;</body></message>'],
    ['U+0000 in text', '<message><body>\u0000</body></message>'],
    ['U+0008 in text', '<message><body>\u0008</body></message>'],
    ['U+000B in an attribute', "<message id='\u000B'/>"],
    ['U+000C in text', '<message><body>\u000C</body></message>'],
    ['U+001F in text', '<message><body>\u001F</body></message>'],
    ['U+FFFE in text', '<message><body>\uFFFE</body></message>'],
    ['U+FFFF in an attribute', "<message id='\uFFFF'/>"],
    ['U+FFFE in CDATA', '<message><body><![CDATA[\uFFFE]]></body></message>'],
    ['U+FFFE in a name', '<message\uFFFE/>'],
    ['a non-name character in a name', '<mess\u00D7age/>'],
    // The UTF-8 of U+00F7 is C3 B7, the code units of the open name U+00C3 U+00B7.
    ['an end tag whose bytes are the code units of the open name', '<message><\u00C3\u00B7></\u00F7></message>'],
    ['an end tag that only starts like the open name', '<message><body></bodyx></message>'],
    ['an overlong UTF-8 encoding', Buffer.from([0x3c, 0x6d, 0x3e, 0xc0, 0xbc, 0x3c, 0x2f, 0x6d, 0x3e])],
    ['a UTF-8 encoded surrogate', Buffer.from([0x3c, 0x6d, 0x3e, 0xed, 0xa0, 0x80, 0x3c, 0x2f, 0x6d, 0x3e])],
    ['UTF-8 above U+10FFFF', Buffer.from([0x3c, 0x6d, 0x3e, 0xf4, 0x90, 0x80, 0x80, 0x3c, 0x2f, 0x6d, 0x3e])],
    ['a stray continuation byte', Buffer.from([0x3c, 0x6d, 0x3e, 0x80, 0x3c, 0x2f, 0x6d, 0x3e])],
    ['a truncated sequence before ASCII', Buffer.from([0x3c, 0x6d, 0x3e, 0xe2, 0x82, 0x3c, 0x2f, 0x6d, 0x3e])],
  ];
  for (const [what, body] of cases) {
    test(`rejects ${what}`, () => {
      assert.equal(conditionOf(body), 'not-well-formed');
    });
  }

  test('end tags match in ASCII and beyond, whole or split', () => {
    for (const chunkSize of [1, 3, 1024]) {
      const outcome = run(`${HEADER}<message><b\u00E9b\u00B7>x</b\u00E9b\u00B7><body>y</body></message>`, { chunkSize });
      assert.deepEqual(outcome.errors, []);
      assert.deepEqual(outcome.stanzas[0].children, [new Element('b\u00E9b\u00B7', NS_CLIENT, {}, ['x']), new Element('body', NS_CLIENT, {}, ['y'])]);
    }
  });

  test('rejects text before the root', () => {
    assert.equal(run(`hello${HEADER}`).errors[0]?.condition, 'not-well-formed');
  });

  test('an error is reported once and later input is ignored', () => {
    const outcome = run(`${HEADER}<message id=x/>`);
    feed(outcome.parser, '<presence/><!-- -->');
    assert.equal(outcome.errors.length, 1);
    assert.equal(outcome.stanzas.length, 0);
  });

  test('stanzas before an invalid byte in the same chunk are still delivered', () => {
    const outcome = run(Buffer.concat([Buffer.from(`${HEADER}<presence/>`), Buffer.from([0xff])]));
    assert.equal(outcome.stanzas.length, 1);
    assert.equal(outcome.errors[0]?.condition, 'not-well-formed');
  });
});

describe('split input', () => {
  const document = `${HEADER}<message to='\u00E9\u20AC\u{1F600}@example.com' id="q&apos;&#x20AC;"><body>\u00E9t\u00E9 \u20AC \u{1F600}&lt;&#128512;<![CDATA[\u{1F600}]]]]></body></message></stream:stream>`;
  const bytes = Buffer.from(document);
  const whole = run(bytes);

  test('the document parses whole', () => {
    assert.deepEqual(whole.errors, []);
    assert.equal(whole.stanzas[0].attrs.to, '\u00E9\u20AC\u{1F600}@example.com');
    assert.equal(whole.stanzas[0].attrs.id, "q'\u20AC");
    assert.equal(whole.stanzas[0].getChildText('body'), '\u00E9t\u00E9 \u20AC \u{1F600}<\u{1F600}\u{1F600}]]');
  });

  test('every split point into two writes gives the same result', () => {
    for (let at = 1; at < bytes.length; at++) {
      const outcome = newParser();
      outcome.parser.write(bytes.subarray(0, at));
      outcome.parser.write(bytes.subarray(at));
      assert.deepEqual(outcome.errors, [], `split at ${at}`);
      assert.deepEqual(outcome.stanzas, whole.stanzas, `split at ${at}`);
      assert.equal(outcome.closes, 1);
    }
  });

  test('byte-by-byte writes give the same result', () => {
    const outcome = run(bytes, { chunkSize: 1 });
    assert.deepEqual(outcome.stanzas, whole.stanzas);
  });

  test('an invalid sequence split across writes is rejected', () => {
    const outcome = newParser();
    outcome.parser.write(Buffer.from(`${HEADER}<m>\xE2`, 'latin1').subarray(0, -1));
    outcome.parser.write(Buffer.from([0xe0]));
    outcome.parser.write(Buffer.from([0x80, 0x80]));
    assert.equal(outcome.errors[0]?.condition, 'not-well-formed');
  });
});

describe('restart', () => {
  test('a second stream header without a restart is invalid-xml, and nothing after it is delivered', () => {
    for (const chunkSize of [Number.POSITIVE_INFINITY, 1]) {
      const outcome = run(`${HEADER}<presence/>${HEADER}<message><body>swallowed?</body></message>`, { chunkSize });
      assert.equal(outcome.roots.length, 1);
      assert.deepEqual(
        outcome.stanzas.map((stanza) => stanza.name),
        ['presence'],
      );
      assert.equal(outcome.errors.length, 1);
      assert.equal(outcome.errors[0]?.condition, 'invalid-xml');
      assert.match(outcome.errors[0]?.message ?? '', /second stream header/);
    }
  });

  test('the check goes by namespace, not prefix, and only at the top level', () => {
    assert.equal(conditionOf(`<s:stream xmlns:s='${NS_STREAMS}'/>`), 'invalid-xml');
    assert.equal(conditionOf(`<stream xmlns='${NS_STREAMS}'>`), 'invalid-xml');
    assert.equal(conditionOf("<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"), undefined);
    assert.equal(conditionOf("<stream xmlns='urn:other'/>"), undefined);
    assert.equal(conditionOf(`<message><stream:stream/></message>`), undefined);
  });

  test('reset() expects a new declaration and stream header', () => {
    const outcome = newParser();
    feed(outcome.parser, `<?xml version='1.0'?>${HEADER}<presence/>`);
    outcome.parser.reset();
    feed(outcome.parser, `<?xml version='1.0'?>${HEADER}<message/>`);
    assert.deepEqual(outcome.errors, []);
    assert.equal(outcome.roots.length, 2);
    assert.deepEqual(
      outcome.stanzas.map((stanza) => stanza.name),
      ['presence', 'message'],
    );
  });

  test('reset() inside a stanza handler parses the rest of the chunk as the new stream', () => {
    const seen: string[] = [];
    const restarting = new XmlStreamParser(
      {
        streamOpen: (root) => seen.push(`open ${root.name}`),
        stanza: (element) => {
          seen.push(element.name);
          if (element.name === 'success') restarting.reset();
        },
        streamClose: () => seen.push('close'),
        error: (error) => seen.push(`error ${error.message}`),
      },
      { limits: LIMITS },
    );
    restarting.write(Buffer.from(`${HEADER}<success/><?xml version='1.0'?>${HEADER}<iq/>`));
    assert.deepEqual(seen, ['open stream', 'success', 'open stream', 'iq']);
  });
});

describe('limits', () => {
  const stanza = (size: number) => {
    const open = '<message><body>';
    const close = '</body></message>';
    return open + 'x'.repeat(size - open.length - close.length) + close;
  };

  test('a stanza of exactly max_stanza_bytes passes, one byte more fails', () => {
    const limits = { max_stanza_bytes: 1000, max_text_bytes: 5000 };
    assert.equal(Buffer.byteLength(stanza(1000)), 1000);
    assert.equal(conditionOf(stanza(1000), { limits }), undefined);
    const over = run(HEADER + stanza(1001), { limits });
    assert.equal(over.errors[0]?.condition, 'policy-violation');
    assert.equal(over.errors[0]?.message, 'stanza exceeds max_stanza_bytes (1000)');
  });

  test('the stanza limit holds at every chunk size and counts multi-byte characters as bytes', () => {
    const limits = { max_stanza_bytes: 100 };
    const exact = `<message><body>${'x'.repeat(8)}${'\u20AC'.repeat(20)}</body></message>`;
    assert.equal(Buffer.byteLength(exact), 100);
    for (const chunkSize of [1, 2, 3, 7, 64, 1000]) {
      assert.equal(conditionOf(exact, { limits, chunkSize }), undefined, `chunk ${chunkSize}`);
      assert.equal(conditionOf(exact.replace('<body>', '<body>x'), { limits, chunkSize }), 'policy-violation', `chunk ${chunkSize}`);
    }
  });

  test('max_depth counts the stanza as depth 1', () => {
    const limits = { max_depth: 3 };
    assert.equal(conditionOf('<a><b><c/></b></a>', { limits }), undefined);
    const over = run(`${HEADER}<a><b><c><d/></c></b></a>`, { limits });
    assert.equal(over.errors[0]?.condition, 'policy-violation');
    assert.equal(over.errors[0]?.message, 'element nesting exceeds max_depth (3)');
  });

  test('max_attributes per element', () => {
    const limits = { max_attributes: 3 };
    assert.equal(conditionOf("<a x='1' y='2' z='3'/>", { limits }), undefined);
    const over = run(`${HEADER}<a x='1' y='2' z='3' w='4'/>`, { limits });
    assert.equal(over.errors[0]?.condition, 'policy-violation');
    assert.equal(over.errors[0]?.message, 'element exceeds max_attributes (3)');
  });

  test('max_attribute_bytes counts decoded bytes', () => {
    const limits = { max_attribute_bytes: 8 };
    assert.equal(conditionOf("<a x='12345&amp;\u00E9'/>", { limits }), undefined);
    const over = run(`${HEADER}<a x='123456&amp;\u00E9'/>`, { limits });
    assert.equal(over.errors[0]?.condition, 'policy-violation');
    assert.equal(over.errors[0]?.message, 'attribute value exceeds max_attribute_bytes (8)');
  });

  test('max_text_bytes applies to the coalesced text node', () => {
    const limits = { max_text_bytes: 10 };
    assert.equal(conditionOf('<a>1234<![CDATA[678]]>&#x20AC;</a>', { limits }), undefined);
    const over = run(`${HEADER}<a>12345<![CDATA[678]]>&#x20AC;</a>`, { limits });
    assert.equal(over.errors[0]?.condition, 'policy-violation');
    assert.equal(over.errors[0]?.message, 'text exceeds max_text_bytes (10)');
    assert.equal(conditionOf('<a>1234567890<b/>1234567890</a>', { limits }), undefined);
  });

  test('the stream header is bounded', () => {
    const big = `<stream:stream xmlns:stream='${NS_STREAMS}' x='${'a'.repeat(3000)}'`;
    const limits = { max_attribute_bytes: 1_000_000 };
    assert.deepEqual(run(`${big}>`, { limits }).errors, []);
    const over = run(`<stream:stream xmlns:stream='${NS_STREAMS}' x='${'a'.repeat(MAX_STREAM_HEADER_BYTES)}'>`, { limits });
    assert.equal(over.errors[0]?.condition, 'policy-violation');
  });

  test("the stream's end tag is no stanza: max_stanza_bytes does not apply to it", () => {
    const outcome = run(`${HEADER}<a/></stream:stream>`, { limits: { max_stanza_bytes: 4 }, chunkSize: 3 });
    assert.deepEqual(outcome.errors, []);
    assert.equal(outcome.stanzas.length, 1);
    assert.equal(outcome.closes, 1);
    const over = run(`${HEADER}<ab/>`, { limits: { max_stanza_bytes: 4 }, chunkSize: 1 });
    assert.equal(over.errors[0]?.message, 'stanza exceeds max_stanza_bytes (4)');
  });

  test('names are bounded', () => {
    assert.equal(conditionOf(`<${'a'.repeat(MAX_NAME_BYTES)}/>`), undefined);
    assert.equal(conditionOf(`<${'a'.repeat(MAX_NAME_BYTES + 1)}/>`), 'policy-violation');
    assert.equal(conditionOf(`</${'a'.repeat(MAX_NAME_BYTES + 1)}>`), 'policy-violation');
  });

  test('a 10 MB hostile chunk is rejected quickly', () => {
    const hostile = [
      `<message><body>${'a'.repeat(10_000_000)}`,
      `<message ${'a'.repeat(10_000_000)}`,
      `<message a='${'&amp;'.repeat(2_000_000)}`,
      `<message>${'<a>'.repeat(3_000_000)}`,
      `${' '.repeat(10_000_000)}x`,
      `<message><body>${']'.repeat(10_000_000)}`,
    ];
    for (const body of hostile) {
      const input = Buffer.from(HEADER + body);
      const started = performance.now();
      const outcome = run(input);
      const elapsed = performance.now() - started;
      assert.equal(outcome.errors.length, 1, body.slice(0, 20));
      assert.ok(elapsed < 500, `${body.slice(0, 20)}: ${elapsed.toFixed(0)} ms`);
    }
  });
});
