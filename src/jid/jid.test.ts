import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Jid, JidMalformedError, makeJid, parseJid, prepareDomain, prepareLocalpart, prepareResource, tryParseJid } from './jid.ts';

type Parts = [local: string | undefined, domain: string, resource: string | undefined];

describe('parseJid accepts', () => {
  const cases: [string, string, Parts][] = [
    // RFC 7622 section 3.5 examples
    ['bare JID', 'juliet@example.com', ['juliet', 'example.com', undefined]],
    ['full JID', 'juliet@example.com/foo', ['juliet', 'example.com', 'foo']],
    ['space in resource', 'juliet@example.com/foo bar', ['juliet', 'example.com', 'foo bar']],
    ['@ in resource', 'juliet@example.com/foo@bar', ['juliet', 'example.com', 'foo@bar']],
    ['/ in resource', 'juliet@example.com/foo/bar', ['juliet', 'example.com', 'foo/bar']],
    ['escaped space (XEP-0106)', 'juliet\\20capulet@example.com', ['juliet\\20capulet', 'example.com', undefined]],
    ['sharp s', 'fu\u00dfball@example.com', ['fu\u00dfball', 'example.com', undefined]],
    ['pi', '\u03c0@example.com', ['\u03c0', 'example.com', undefined]],
    ['capital sigma is case-folded', '\u03a3@example.com/foo', ['\u03c3', 'example.com', 'foo']],
    ['final sigma', '\u03c2@example.com/foo', ['\u03c2', 'example.com', 'foo']],
    ['Greek word', '\u03a3\u0391\u039c@example.com', ['\u03c3\u03b1\u03bc', 'example.com', undefined]],
    ['chess king in resource', 'king@example.com/\u265a', ['king', 'example.com', '\u265a']],
    ['emoji in resource', 'juliet@example.com/\u{1f4f1} phone', ['juliet', 'example.com', '\u{1f4f1} phone']],
    ['domain only', 'example.com', [undefined, 'example.com', undefined]],
    ['domain with resource', 'example.com/foobar', [undefined, 'example.com', 'foobar']],
    ['JID-like resource', 'a.example.com/b@example.net', [undefined, 'a.example.com', 'b@example.net']],
    // preparation
    ['uppercase localpart and domain', 'JULIET@EXAMPLE.COM/Balcony', ['juliet', 'example.com', 'Balcony']],
    ['fullwidth localpart', '\uff2a\uff35\uff2c\uff29\uff25\uff34@example.com', ['juliet', 'example.com', undefined]],
    ['resource case is kept', 'a@example.com/ReSoUrCe', ['a', 'example.com', 'ReSoUrCe']],
    ['non-ASCII space in resource is mapped', 'a@example.com/x\u00a0y', ['a', 'example.com', 'x y']],
    ['trailing dot in domain', 'juliet@example.com./r', ['juliet', 'example.com', 'r']],
    ['IPv4 literal', 'juliet@192.0.2.1/r', ['juliet', '192.0.2.1', 'r']],
    ['IPv6 literal is canonicalized', 'juliet@[2001:DB8:0:0:0:0:0:1]/r', ['juliet', '[2001:db8::1]', 'r']],
    ['IDN in U-label form', 'juliet@B\u00dcCHER.example', ['juliet', 'b\u00fccher.example', undefined]],
    ['IDN in A-label form', 'juliet@xn--bcher-kva.example', ['juliet', 'b\u00fccher.example', undefined]],
    ['localpart of exactly 1023 bytes', `${'a'.repeat(1023)}@example.com`, ['a'.repeat(1023), 'example.com', undefined]],
    ['domain of exactly 253 octets', `a@${'abcdefghi.'.repeat(25)}com`, ['a', `${'abcdefghi.'.repeat(25)}com`, undefined]],
    ['resource of exactly 1023 bytes', `a@example.com/${'\u00e9'.repeat(511)}x`, ['a', 'example.com', `${'\u00e9'.repeat(511)}x`]],
  ];
  for (const [name, input, [local, domain, resource]] of cases) {
    test(name, () => {
      const jid = parseJid(input);
      assert.deepEqual([jid.local, jid.domain, jid.resource], [local, domain, resource]);
    });
  }
});

describe('parseJid rejects', () => {
  const cases: [string, string, RegExp][] = [
    // RFC 7622 section 3.5 examples
    ['quotes in localpart', '"juliet"@example.com', /forbidden character "/],
    ['space in localpart', 'foo bar@example.com', /U\+0020/],
    ['empty localpart and resource', '@example.com/', /localpart is empty/],
    ['compatibility character in localpart', 'henry\u2163@example.com', /U\+2173/],
    ['symbol in localpart', '\u265a@example.com', /U\+265A/],
    ['empty domain', 'juliet@', /domainpart is empty/],
    ['no domain', '/foobar', /domainpart is empty/],
    // further rules
    ['empty localpart', '@example.com', /localpart is empty/],
    ['empty resource', 'example.com/', /resourcepart is empty/],
    ['empty input', '', /domainpart is empty/],
    ['only a dot as domain', 'a@.', /domainpart is empty/],
    ['two trailing dots', 'a@example.com..', /empty label/],
    ['empty label', 'a@example..com', /empty label/],
    ['ampersand in localpart', 'a&b@example.com', /forbidden character &/],
    ['apostrophe in localpart', "o'brien@example.com", /forbidden character '/],
    ['colon in localpart', 'a:b@example.com', /forbidden character :/],
    ['angle bracket in localpart', 'a<b@example.com', /forbidden character </],
    ['control character in localpart', 'a\u0001@example.com', /U\+0001/],
    ['control character in resource', 'a@example.com/r\u0007', /U\+0007/],
    ['NUL in resource', 'a@example.com/\u0000', /U\+0000/],
    ['control character in domain', 'a@exa\u0001mple.com', /not a valid domain name/],
    ['space in domain', 'a@exa mple.com', /not a valid domain name/],
    ['@ in domain', 'a@b@example.com', /not a valid domain name/],
    ['underscore in domain', 'a@exa_mple.com', /not allowed in host names/],
    ['leading hyphen in label', 'a@-example.com', /not allowed in host names/],
    ['invalid A-label', 'a@xn--zz.example', /invalid A-label/],
    ['numeric domain read as IPv4 by URL parsing', 'a@1.2.3', /dotted-quad/],
    ['IPv4 with leading zeros', 'a@01.2.3.4', /dotted-quad/],
    ['bad IPv6 literal', 'a@[2001:db8::g]', /IPv6/],
    ['IPv6 literal with zone', 'a@[fe80::1%eth0]', /IPv6/],
    ['label over 63 octets', `a@${'b'.repeat(64)}.com`, /longer than 63/],
    ['domain over 253 octets', `a@${'abcdefghi.'.repeat(26)}com`, /longer than 253/],
    ['localpart of 1024 bytes', `${'a'.repeat(1024)}@example.com`, /1024 bytes/],
    ['resource of 1024 bytes', `a@example.com/${'\u00e9'.repeat(512)}`, /1024 bytes/],
    ['absurdly long input', 'a'.repeat(100_000), /too long/],
    ['left-to-right letter in a right-to-left localpart', '\u05d0a@example.com', /rule 2/],
  ];
  for (const [name, input, message] of cases) {
    test(name, () => {
      assert.throws(() => parseJid(input), (error: unknown) => error instanceof JidMalformedError && message.test(error.message));
      assert.equal(tryParseJid(input), undefined);
    });
  }
});

describe('Jid', () => {
  test('toString round-trips the canonical form', () => {
    assert.equal(parseJid('Juliet@Example.COM/Balcony').toString(), 'juliet@example.com/Balcony');
    assert.equal(parseJid('example.com').toString(), 'example.com');
    assert.equal(parseJid('example.com/r').toString(), 'example.com/r');
    assert.equal(String(parseJid('a@[::1]')), 'a@[::1]');
  });

  test('domain forms compare equal', () => {
    const forms = ['B\u00dcCHER.example', 'b\u00fccher.example.', 'xn--bcher-kva.example', 'XN--BCHER-KVA.EXAMPLE', 'bu\u0308cher.example'];
    for (const form of forms) assert.ok(parseJid(`a@${form}`).equals(parseJid('a@b\u00fccher.example')), form);
  });

  test('bare and full comparisons', () => {
    const full = parseJid('juliet@example.com/balcony');
    const bare = parseJid('JULIET@example.com');
    assert.ok(!full.equals(bare));
    assert.ok(full.bare().equals(bare));
    assert.ok(full.withoutResource().equals(bare));
    assert.ok(!full.equals(parseJid('juliet@example.com/Balcony')));
    assert.ok(!bare.equals(parseJid('example.com')));
    assert.ok(bare.bare() === bare);
  });

  test('isBare and isDomain', () => {
    assert.equal(parseJid('a@example.com').isBare(), true);
    assert.equal(parseJid('a@example.com/r').isBare(), false);
    assert.equal(parseJid('example.com').isDomain(), true);
    assert.equal(parseJid('example.com/r').isDomain(), false);
    assert.equal(parseJid('a@example.com').isDomain(), false);
  });

  test('withResource prepares the resource', () => {
    const jid = parseJid('a@example.com/old').withResource('new\u00a0one');
    assert.equal(jid.toString(), 'a@example.com/new one');
    assert.throws(() => jid.withResource(''), JidMalformedError);
  });

  test('parseJid returns equal results for repeated input', () => {
    assert.ok(parseJid('cache@example.com/r').equals(parseJid('cache@example.com/r')));
  });

  test('JSON form is the string', () => {
    assert.equal(JSON.stringify({ to: parseJid('a@example.com') }), '{"to":"a@example.com"}');
  });
});

describe('makeJid', () => {
  test('prepares each part', () => {
    const jid = makeJid('ROMEO', 'EXAMPLE.net.', 'orchard');
    assert.ok(jid instanceof Jid);
    assert.equal(jid.toString(), 'romeo@example.net/orchard');
    assert.equal(makeJid(undefined, 'example.net').toString(), 'example.net');
  });

  test('rejects empty and invalid parts', () => {
    assert.throws(() => makeJid('', 'example.net'), /localpart is empty/);
    assert.throws(() => makeJid('a', 'example.net', ''), /resourcepart is empty/);
    assert.throws(() => makeJid('a', ''), /domainpart is empty/);
    assert.throws(() => makeJid('a@b', 'example.net'), /forbidden character @/);
  });
});

describe('part preparation', () => {
  test('ASCII fast path gives the same result as full PRECIS preparation', () => {
    for (const s of ['Juliet', 'a.b-c_d+e', 'X\\5cY', '!#$%*']) {
      assert.equal(prepareLocalpart(s), s.toLowerCase());
      assert.equal(prepareLocalpart(`${s}\u00e9`), `${s.toLowerCase()}\u00e9`);
    }
    assert.equal(prepareResource('Mixed Case/x@y'), 'Mixed Case/x@y');
  });

  test('prepareDomain', () => {
    assert.equal(prepareDomain('Example.COM'), 'example.com');
    assert.equal(prepareDomain('[::FFFF:0:1]'), '[::ffff:0:1]');
    assert.equal(prepareDomain('\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com'), 'example.com');
    assert.equal(prepareDomain('localhost'), 'localhost');
  });
});
