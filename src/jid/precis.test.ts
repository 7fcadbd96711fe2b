import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PrecisError, prepareOpaqueString, prepareUsernameCaseMapped } from './precis.ts';

describe('prepareUsernameCaseMapped (RFC 8265 section 3.3)', () => {
  const valid: [string, string, string][] = [
    ['plain ASCII', 'juliet', 'juliet'],
    ['ASCII punctuation is in ASCII7', 'juliet@example.com', 'juliet@example.com'],
    ['uppercase ASCII', 'Juliet', 'juliet'],
    ['fullwidth letters are width-mapped', '\uff2a\uff55\uff4c\uff49\uff45\uff54', 'juliet'],
    ['halfwidth katakana is width-mapped', '\uff76', '\u30ab'],
    ['sharp s stays', 'fu\u00dfball', 'fu\u00dfball'],
    ['Greek capitals are lowercased', '\u03a3\u0391\u039c', '\u03c3\u03b1\u03bc'],
    ['final sigma is PVALID', '\u03c2', '\u03c2'],
    ['pi', '\u03c0', '\u03c0'],
    ['titlecase is lowercased', '\u1f9b', '\u1f93'],
    ['decomposed input is composed (NFC)', 'e\u0301', '\u00e9'],
    ['Han', '\u5927\u5bb6', '\u5927\u5bb6'],
    ['Hebrew right-to-left string', '\u05e9\u05dc\u05d5\u05dd', '\u05e9\u05dc\u05d5\u05dd'],
    ['right-to-left string ending in a digit', '\u05e9\u05dc\u05d5\u05dd1', '\u05e9\u05dc\u05d5\u05dd1'],
    ['middle dot between two l (RFC 5892 A.3)', 'l\u00b7l', 'l\u00b7l'],
    ['Greek keraia before Greek (A.4)', '\u0375\u03b1', '\u0375\u03b1'],
    ['geresh after Hebrew (A.5)', '\u05d0\u05f3', '\u05d0\u05f3'],
    ['katakana middle dot with katakana (A.7)', '\u30ab\u30fb\u30ab', '\u30ab\u30fb\u30ab'],
    ['Arabic-Indic digits alone (A.8)', '\u0627\u0661\u0662', '\u0627\u0661\u0662'],
    ['ZWJ after a virama (A.2)', '\u0915\u094d\u200d\u0937', '\u0915\u094d\u200d\u0937'],
    ['ZWNJ after a virama (A.1)', '\u0915\u094d\u200c\u0937', '\u0915\u094d\u200c\u0937'],
    ['ZWNJ between joining Arabic letters (A.1)', '\u0628\u200c\u0628', '\u0628\u200c\u0628'],
  ];
  for (const [name, input, expected] of valid) {
    test(`accepts ${name}`, () => assert.equal(prepareUsernameCaseMapped(input), expected));
  }

  const invalid: [string, string, RegExp][] = [
    ['empty string', '', /empty/],
    ['space (Spaces are FREE_PVAL only)', 'foo bar', /U\+0020/],
    ['ideographic space after width mapping', 'a\u3000b', /U\+0020/],
    ['compatibility character (HasCompat)', 'henry\u2163', /U\+2173/],
    ['symbol', '\u265a', /U\+265A/],
    ['control character', 'a\u0007', /U\+0007/],
    ['NUL', 'a\u0000b', /U\+0000/],
    ['default ignorable', 'a\u00adb', /U\+00AD/],
    ['noncharacter', 'a\ufffe', /U\+FFFE/],
    ['unassigned code point', 'a\u0378', /U\+0378.*unassigned/],
    ['old Hangul jamo', '\u1100', /U\+1100/],
    ['exception DISALLOWED (tatweel)', '\u0628\u0640', /U\+0640/],
    ['Roman numeral (Nl is OtherLetterDigits)', '\u216f', /U\+217F/],
    ['ZWJ without a virama', 'a\u200db', /U\+200D.*context/],
    ['ZWNJ between Latin letters', 'a\u200cb', /U\+200C.*context/],
    ['middle dot without l on both sides', 'a\u00b7l', /U\+00B7/],
    ['Greek keraia before Latin', '\u0375a', /U\+0375/],
    ['geresh after Latin', 'a\u05f3', /U\+05F3/],
    ['katakana middle dot alone', 'a\u30fb', /U\+30FB/],
    ['mixed Arabic-Indic digit sets', '\u0627\u0661\u06f1', /U\+0661/],
    ['left-to-right letter in a right-to-left string', '\u05d0a', /rule 2/],
    ['right-to-left string starting with a digit', '1\u05d0', /rule 1/],
  ];
  for (const [name, input, message] of invalid) {
    test(`rejects ${name}`, () => {
      assert.throws(() => prepareUsernameCaseMapped(input), (error: unknown) => error instanceof PrecisError && message.test(error.message));
    });
  }
});

describe('prepareOpaqueString (RFC 8265 section 4.2)', () => {
  const valid: [string, string, string][] = [
    ['spaces', 'correct horse battery staple', 'correct horse battery staple'],
    ['case is kept', 'Correct Horse Battery Staple', 'Correct Horse Battery Staple'],
    ['non-ASCII letters', '\u03c0\u00df\u00e5', '\u03c0\u00df\u00e5'],
    ['symbols', 'Jack of \u2666s', 'Jack of \u2666s'],
    ['non-ASCII space is mapped to U+0020', 'foo\u1680bar', 'foo bar'],
    ['no-break space is mapped to U+0020', 'a\u00a0b', 'a b'],
    ['compatibility characters are kept', '\u2163', '\u2163'],
    ['fullwidth is not width-mapped', '\uff21', '\uff21'],
    ['NFC is applied', 'e\u0301', '\u00e9'],
    ['emoji', 'phone \u{1f4f1}', 'phone \u{1f4f1}'],
  ];
  for (const [name, input, expected] of valid) {
    test(`accepts ${name}`, () => assert.equal(prepareOpaqueString(input), expected));
  }

  const invalid: [string, string, RegExp][] = [
    ['empty string', '', /empty/],
    ['tab', 'my cat is a \u0009by', /U\+0009/],
    ['NUL', 'a\u0000', /U\+0000/],
    ['unassigned code point', '\u0378', /U\+0378/],
    ['default ignorable', 'a\u200bb', /U\+200B/],
  ];
  for (const [name, input, message] of invalid) {
    test(`rejects ${name}`, () => {
      assert.throws(() => prepareOpaqueString(input), (error: unknown) => error instanceof PrecisError && message.test(error.message));
    });
  }
});
