import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamError } from '../net/stream-errors.ts';
import { Element, NS_STREAMS } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { FakeStepHost, type FakeHostOptions } from '../../test/support/step-host.ts';
import { saslExternalStep } from './step-sasl-external.ts';

const NS = 'urn:ietf:params:xml:ns:xmpp-sasl';
const EXTERNAL = parseElement(`<stream:features xmlns:stream='${NS_STREAMS}'><mechanisms xmlns='${NS}'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>`);
const auth = (response = '=') => parseElement(`<auth xmlns='${NS}' mechanism='EXTERNAL'>${response}</auth>`);
const host = (options: Partial<FakeHostOptions> & Pick<FakeHostOptions, 'role'>) => new FakeStepHost({ local: 'a.example', remote: 'b.example', secure: true, ...options });

describe('the SASL EXTERNAL step', () => {
  describe('initiating', () => {
    test('EXTERNAL offered over TLS: <auth/> with an empty response (XEP-0178 section 3)', () => {
      const initiator = host({ role: 'initiator' });
      assert.equal(saslExternalStep(initiator).begin!(EXTERNAL), 'running');
      assert.match(initiator.wire[0]!, /^<auth [^>]*mechanism=["']EXTERNAL["']>=<\/auth>$/);
    });

    test('not offered, or no TLS: skipped', () => {
      const noOffer = host({ role: 'initiator' });
      assert.equal(saslExternalStep(noOffer).begin!(undefined), 'done');
      const insecure = host({ role: 'initiator', secure: false });
      assert.equal(saslExternalStep(insecure).begin!(EXTERNAL), 'done');
      assert.deepEqual([noOffer.wire, insecure.wire], [[], []]);
    });

    test('a domain that must be trusted and shows no valid certificate fails before any authentication', () => {
      const initiator = host({ role: 'initiator', level: 'trusted', certificates: { 'b.example': 'untrusted' } });
      assert.equal(saslExternalStep(initiator).begin!(EXTERNAL), 'done');
      assert.equal(initiator.failures[0]?.condition, 'policy-violation');
      assert.deepEqual(initiator.wire, []);
    });

    test('<success/>: the stream restarts and the pair is authorized', () => {
      const initiator = host({ role: 'initiator' });
      assert.equal(saslExternalStep(initiator).handle(parseElement(`<success xmlns='${NS}'/>`)), 'restart');
      assert.deepEqual(initiator.wire, ['(restart)']);
      assert.deepEqual(initiator.authorizedPairs, [{ local: 'a.example', remote: 'b.example', method: 'sasl-external' }]);
    });

    test('<failure/>: done, so that dialback may follow', () => {
      const initiator = host({ role: 'initiator' });
      assert.equal(saslExternalStep(initiator).handle(parseElement(`<failure xmlns='${NS}'><not-authorized/></failure>`)), 'done');
      assert.deepEqual([initiator.authorizedPairs, initiator.failures], [[], []]);
    });
  });

  describe('receiving', () => {
    test('offers EXTERNAL only over TLS with a certificate valid for the claimed domain', () => {
      const offered = (options: Partial<FakeHostOptions>) => {
        const features = new Element('features', NS_STREAMS);
        saslExternalStep(host({ role: 'receiver', ...options })).offer!(features);
        return features.getChild('mechanisms', NS) !== undefined;
      };
      assert.equal(offered({ certificates: { 'b.example': 'valid' } }), true);
      assert.equal(offered({ certificates: { 'b.example': 'untrusted' } }), false);
      assert.equal(offered({ certificates: { 'b.example': 'valid' }, secure: false }), false);
    });

    test('a valid certificate: <success/>, the pair is authorized, the stream restarts', () => {
      const receiver = host({ role: 'receiver', certificates: { 'b.example': 'valid' } });
      const step = saslExternalStep(receiver);
      assert.equal(step.handle(auth()), 'restart');
      assert.match(receiver.wire[0]!, /^<success /);
      assert.deepEqual(receiver.authorizedPairs, [{ local: 'a.example', remote: 'b.example', method: 'sasl-external' }]);
      const features = new Element('features', NS_STREAMS);
      step.offer!(features);
      assert.equal(features.elements().length, 0, 'nothing more to offer after success');
    });

    test('an authorization identity must be the sender (RFC 6120 section 6.3.8)', () => {
      const receiver = host({ role: 'receiver', certificates: { 'b.example': 'valid' } });
      const step = saslExternalStep(receiver);
      assert.equal(step.handle(auth(Buffer.from('c.example').toString('base64'))), 'done');
      assert.match(receiver.wire[0]!, /<invalid-authzid\/>/);
      assert.equal(step.handle(auth(Buffer.from('b.example').toString('base64'))), 'restart');
    });

    test('no valid certificate: <not-authorized/>, nothing authorized', () => {
      const receiver = host({ role: 'receiver', certificates: { 'b.example': 'wrong-name' } });
      assert.equal(saslExternalStep(receiver).handle(auth()), 'done');
      assert.match(receiver.wire[0]!, /<failure [^>]*><not-authorized\/><\/failure>/);
      assert.deepEqual(receiver.authorizedPairs, []);
    });

    test('anything but <auth/> ends the stream with not-authorized', () => {
      const receiver = host({ role: 'receiver' });
      assert.throws(() => saslExternalStep(receiver).handle(parseElement(`<response xmlns='${NS}'/>`)), (error) => error instanceof StreamError && error.condition === 'not-authorized');
    });
  });

  test('not on a host-named stream: neither offered, nor asked for, nor accepted (both certificates name the hosts)', () => {
    const receiving = host({ role: 'receiver', hostNamed: true, certificates: { 'b.example': 'valid' } });
    const features = new Element('features', NS_STREAMS);
    saslExternalStep(receiving).offer!(features);
    assert.deepEqual(features.elements(), []);
    saslExternalStep(receiving).handle(auth());
    assert.match(receiving.wire[0]!, /<invalid-mechanism/);
    assert.deepEqual(receiving.authorizedPairs, []);
    const initiating = host({ role: 'initiator', hostNamed: true, level: 'trusted' });
    assert.equal(saslExternalStep(initiating).begin!(EXTERNAL), 'done');
    assert.deepEqual([initiating.wire, initiating.failures], [[], []]);
  });
});

