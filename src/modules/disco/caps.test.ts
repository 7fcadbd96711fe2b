import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capsHash, capsVerificationString, type CapsInput } from './caps.ts';

const FEATURES = ['http://jabber.org/protocol/disco#items', 'http://jabber.org/protocol/caps', 'http://jabber.org/protocol/muc', 'http://jabber.org/protocol/disco#info'];

test('XEP-0115 section 5.2: the simple example', () => {
  const input: CapsInput = { identities: [{ category: 'client', type: 'pc', name: 'Exodus 0.9.1' }], features: FEATURES };
  assert.equal(
    capsVerificationString(input),
    'client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<',
  );
  assert.equal(capsHash(input), 'QgayPKawpkPSDYmwT/WM94uAlu0=');
});

test('XEP-0115 section 5.3: the complex example with xml:lang identities and an extended form', () => {
  const input: CapsInput = {
    identities: [
      { category: 'client', type: 'pc', lang: 'en', name: 'Psi 0.11' },
      { category: 'client', type: 'pc', lang: 'el', name: 'Ψ 0.11' },
    ],
    features: FEATURES,
    forms: [
      {
        formType: 'urn:xmpp:dataforms:softwareinfo',
        fields: [
          { name: 'ip_version', values: ['ipv6', 'ipv4'] },
          { name: 'os', values: ['Mac'] },
          { name: 'os_version', values: ['10.5.1'] },
          { name: 'software', values: ['Psi'] },
          { name: 'software_version', values: ['0.11'] },
        ],
      },
    ],
  };
  assert.equal(
    capsVerificationString(input),
    'client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<' +
      'urn:xmpp:dataforms:softwareinfo<ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<',
  );
  assert.equal(capsHash(input), 'q07IKJEyjvHSyhy//CH0CxmKi8w=');
});

test('forms sort by FORM_TYPE and fields by var, whatever order they came in', () => {
  const a: CapsInput = {
    identities: [{ category: 'server', type: 'im' }],
    features: ['b', 'a'],
    forms: [
      { formType: 'urn:z', fields: [{ name: 'y', values: ['2', '1'] }, { name: 'x', values: [] }] },
      { formType: 'urn:a', fields: [{ name: 'k', values: ['v'] }] },
    ],
  };
  assert.equal(capsVerificationString(a), 'server/im//<a<b<urn:a<k<v<urn:z<x<y<1<2<');
});

test('sorting is by UTF-8 octets, not UTF-16 code units', () => {
  // UTF-16 puts U+1F600 (surrogate 0xD83D) before U+FF5E; UTF-8 puts U+FF5E (EF BD 9E) before U+1F600 (F0 9F 98 80).
  const input: CapsInput = { identities: [], features: ['\u{1F600}', '\uFF5E'] };
  assert.equal(capsVerificationString(input), '\uFF5E<\u{1F600}<');
});

test('characters are hashed as they are, not XML-escaped', () => {
  assert.equal(capsVerificationString({ identities: [{ category: 'client', type: 'pc', name: 'A & B <x>' }], features: [] }), 'client/pc//A & B <x><');
});
