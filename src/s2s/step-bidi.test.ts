import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Element, NS_STREAMS } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { FakeStepHost, type FakeHostOptions } from '../../test/support/step-host.ts';
import { bidiStep } from './step-bidi.ts';

const FEATURE = "<bidi xmlns='urn:xmpp:features:bidi'/>";
const REQUEST = parseElement("<bidi xmlns='urn:xmpp:bidi'/>");
const features = (inner = '') => parseElement(`<stream:features xmlns:stream='${NS_STREAMS}'>${inner}</stream:features>`);
const initiator = (options: Partial<FakeHostOptions> = {}) => new FakeStepHost({ role: 'initiator', local: 'a.example', remote: 'b.example', secure: true, ...options });
const receiver = (options: Partial<FakeHostOptions> = {}) => new FakeStepHost({ role: 'receiver', local: 'b.example', remote: 'a.example', secure: true, ...options });

function offered(host: FakeStepHost): boolean {
  const element = new Element('features', NS_STREAMS);
  assert.equal(bidiStep(host).offer!(element), false, 'bidi never ends the features');
  return /urn:xmpp:features:bidi/.test(serialize(element, NS_STREAMS));
}

describe('the bidi step (XEP-0288)', () => {
  describe('initiating', () => {
    test('offered after TLS: <bidi/> goes out before SASL or dialback, and the connection is bidi', () => {
      const host = initiator();
      assert.equal(bidiStep(host).begin!(features(FEATURE)), 'done');
      assert.deepEqual(host.wire.length, 1);
      assert.match(host.wire[0]!, /^<bidi xmlns=["']urn:xmpp:bidi["']\/>$/);
      assert.equal(host.bidi, true);
    });

    test("offered with Trellis's pairs extension: <bidi/> says reverse pair requests are taken", () => {
      const host = initiator();
      bidiStep(host).begin!(features(`${FEATURE}<pairs xmlns='urn:xmpp:trellis:s2s:0'/>`));
      assert.match(host.wire[0]!, /^<bidi xmlns=["']urn:xmpp:bidi["']><pairs xmlns=["']urn:xmpp:trellis:s2s:0["']\/><\/bidi>$/);
      assert.deepEqual([host.bidi, host.reversePairs], [true, true]);
      const prosody = initiator();
      bidiStep(prosody).begin!(features(FEATURE));
      assert.deepEqual([prosody.bidi, prosody.reversePairs], [true, false], 'a peer without the extension is never asked');
    });

    test('a peer announcing the relay trace is told we keep it too; the receiver notes it from <bidi/>', () => {
      const host = initiator();
      bidiStep(host).begin!(features(`${FEATURE}<trace xmlns='urn:xmpp:trellis:relay:0'/>`));
      assert.match(host.wire[0]!, /^<bidi xmlns=["']urn:xmpp:bidi["']><trace xmlns=["']urn:xmpp:trellis:relay:0["']\/><\/bidi>$/);
      const receiving = receiver();
      bidiStep(receiving).handle!(parseElement("<bidi xmlns='urn:xmpp:bidi'><trace xmlns='urn:xmpp:trellis:relay:0'/></bidi>"));
      assert.deepEqual([receiving.bidi, receiving.keepsRelayTrace], [true, true]);
      const plain = receiver();
      bidiStep(plain).handle!(parseElement("<bidi xmlns='urn:xmpp:bidi'/>"));
      assert.deepEqual([plain.bidi, plain.keepsRelayTrace], [true, false]);
    });

    test('not offered (ejabberd, jabberd2): nothing is sent, the connection stays one-way', () => {
      const host = initiator();
      assert.equal(bidiStep(host).begin!(features("<dialback xmlns='urn:xmpp:features:dialback'/>")), 'done');
      assert.deepEqual([host.wire, host.bidi], [[], false]);
      assert.equal(bidiStep(host).begin!(undefined), 'done', 'a pre-1.0 peer sends no features');
      assert.deepEqual([host.wire, host.bidi], [[], false]);
    });

    test('turned off (s2s.bidi: false): not asked for', () => {
      const host = initiator({ bidi: false });
      bidiStep(host).begin!(features(FEATURE));
      assert.deepEqual([host.wire, host.bidi], [[], false]);
    });

    test('offered without TLS: asked for only where policy does not require TLS', () => {
      const strict = initiator({ secure: false, level: 'encrypted' });
      bidiStep(strict).begin!(features(FEATURE));
      assert.deepEqual([strict.wire, strict.bidi], [[], false]);
      const loose = initiator({ secure: false, level: 'verified' });
      bidiStep(loose).begin!(features(FEATURE));
      assert.equal(loose.bidi, true);
    });
  });

  describe('receiving', () => {
    test('offers the feature after TLS, and before TLS only where TLS is not required', () => {
      assert.equal(offered(receiver()), true);
      assert.equal(offered(receiver({ secure: false, level: 'encrypted' })), false);
      assert.equal(offered(receiver({ secure: false, level: 'verified' })), true);
    });

    test('not offered when turned off, or once bidi is on or the peer is authenticated', () => {
      assert.equal(offered(receiver({ bidi: false })), false);
      const on = receiver();
      on.enableBidi(false);
      assert.equal(offered(on), false);
      const authenticated = receiver();
      authenticated.authenticated = true;
      assert.equal(offered(authenticated), false);
    });

    test('<bidi/> after TLS turns bidi on, with no reply', () => {
      const host = receiver();
      assert.equal(bidiStep(host).handle(REQUEST), 'done');
      assert.deepEqual([host.bidi, host.reversePairs, host.wire, host.failures], [true, false, [], []]);
    });

    test('<bidi/> with the pairs extension after TLS: we may ask for pairs too; never before TLS', () => {
      const request = parseElement("<bidi xmlns='urn:xmpp:bidi'><pairs xmlns='urn:xmpp:trellis:s2s:0'/></bidi>");
      const host = receiver();
      bidiStep(host).handle(request);
      assert.deepEqual([host.bidi, host.reversePairs], [true, true]);
      const plain = receiver({ secure: false, level: 'verified' });
      bidiStep(plain).handle(request);
      assert.deepEqual([plain.bidi, plain.reversePairs], [true, false]);
    });

    test('<bidi/> before TLS where TLS is required is not enabled, and the stream goes on', () => {
      const host = receiver({ secure: false, level: 'encrypted' });
      assert.equal(bidiStep(host).handle(REQUEST), 'done');
      assert.deepEqual([host.bidi, host.wire, host.failures], [false, [], []]);
    });

    test('<bidi/> after authentication, or when turned off, is not enabled', () => {
      const late = receiver();
      late.authenticated = true;
      bidiStep(late).handle(REQUEST);
      assert.equal(late.bidi, false);
      const off = receiver({ bidi: false });
      bidiStep(off).handle(REQUEST);
      assert.equal(off.bidi, false);
    });

    test('claims only the bidi namespace', () => {
      const step = bidiStep(receiver());
      assert.equal(step.claims(REQUEST), true);
      assert.equal(step.claims(parseElement("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")), false);
    });
  });
});
