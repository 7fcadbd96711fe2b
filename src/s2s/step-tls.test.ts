import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamError } from '../net/stream-errors.ts';
import { Element, NS_STREAMS } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { FakeStepHost } from '../../test/support/step-host.ts';
import { tlsStep } from './step-tls.ts';

const STARTTLS = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const features = (inner = '') => parseElement(`<stream:features xmlns:stream='${NS_STREAMS}'>${inner}</stream:features>`);

describe('the TLS step', () => {
  describe('initiating', () => {
    test('STARTTLS offered: <starttls/>, and the step owns the stream', () => {
      const host = new FakeStepHost({ role: 'initiator', local: 'a.example', remote: 'b.example' });
      assert.equal(tlsStep(host).begin!(features(STARTTLS)), 'running');
      assert.match(host.wire[0]!, /^<starttls xmlns=["']urn:ietf:params:xml:ns:xmpp-tls["']\/>$/);
    });

    test('<proceed/>: the handshake, then a restart', async () => {
      const host = new FakeStepHost({ role: 'initiator', local: 'a.example', remote: 'b.example' });
      assert.equal(await tlsStep(host).handle(parseElement("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")), 'restart');
      assert.deepEqual([host.secure, host.wire], [true, ['(TLS)']]);
    });

    test('<failure/> fails the connection', async () => {
      const host = new FakeStepHost({ role: 'initiator', local: 'a.example', remote: 'b.example' });
      assert.equal(await tlsStep(host).handle(parseElement("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")), 'done');
      assert.match(host.failures[0]!.error.message, /refused STARTTLS/);
    });

    test('no STARTTLS offered: refused where the level needs TLS (RFC 7590 section 3.1), skipped where it does not', () => {
      const strict = new FakeStepHost({ role: 'initiator', local: 'a.example', remote: 'b.example', level: 'encrypted' });
      assert.equal(tlsStep(strict).begin!(features()), 'done');
      assert.deepEqual([strict.failures[0]?.condition, strict.failures[0]?.error.condition], ['policy-violation', 'remote-server-timeout']);
      const loose = new FakeStepHost({ role: 'initiator', local: 'a.example', remote: 'b.example', level: 'verified' });
      assert.equal(tlsStep(loose).begin!(features()), 'done');
      assert.deepEqual([loose.failures, loose.wire], [[], []]);
    });

    test('already secure (direct TLS): nothing to do', () => {
      const host = new FakeStepHost({ role: 'initiator', local: 'a.example', remote: 'b.example', secure: true });
      assert.equal(tlsStep(host).begin!(features(STARTTLS)), 'done');
      assert.deepEqual(host.wire, []);
    });
  });

  describe('receiving', () => {
    test('offers STARTTLS, required and alone when the level needs it (RFC 6120 section 5.3.1)', () => {
      for (const [level, required] of [['encrypted', true], ['verified', false]] as const) {
        const host = new FakeStepHost({ role: 'receiver', local: 'a.example', remote: 'b.example', level });
        const offered = new Element('features', NS_STREAMS);
        assert.equal(tlsStep(host).offer!(offered), required);
        assert.equal(offered.getChild('starttls', 'urn:ietf:params:xml:ns:xmpp-tls')?.getChild('required', 'urn:ietf:params:xml:ns:xmpp-tls') !== undefined, required);
      }
    });

    test('offers nothing once secure', () => {
      const host = new FakeStepHost({ role: 'receiver', local: 'a.example', remote: 'b.example', secure: true });
      const offered = new Element('features', NS_STREAMS);
      assert.equal(tlsStep(host).offer!(offered), false);
      assert.equal(offered.elements().length, 0);
    });

    test('<starttls/>: <proceed/>, the handshake, then a restart', async () => {
      const host = new FakeStepHost({ role: 'receiver', local: 'a.example', remote: 'b.example' });
      assert.equal(await tlsStep(host).handle(parseElement(STARTTLS)), 'restart');
      assert.match(host.wire[0]!, /^<proceed /);
      assert.equal(host.wire[1], '(TLS)');
    });

    test('<starttls/> over TLS already ends the stream with not-authorized', () => {
      const host = new FakeStepHost({ role: 'receiver', local: 'a.example', remote: 'b.example', secure: true });
      assert.throws(() => tlsStep(host).handle(parseElement(STARTTLS)), (error) => error instanceof StreamError && error.condition === 'not-authorized');
    });
  });
});
