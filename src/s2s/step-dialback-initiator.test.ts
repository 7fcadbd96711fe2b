import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NS_STREAMS } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { FakeStepHost } from '../../test/support/step-host.ts';
import { dialbackKey } from './dialback-key.ts';
import { DialbackInitiator, MAX_PENDING_VERIFIES } from './step-dialback-initiator.ts';

const PAIR = { local: 'a.example', remote: 'b.example' };
const db = (xml: string) => parseElement(xml.replace(/^<db:(\w+)/, "<db:$1 xmlns:db='jabber:server:dialback'"));
const answer = (type: string, from = 'b.example', to = 'a.example') => db(`<db:result from='${from}' to='${to}' type='${type}'/>`);

function started(options: { supported?: boolean } = {}) {
  const host = new FakeStepHost({ role: 'initiator', local: 'a.example', remote: 'b.example', secure: true, secret: 's3cr3t', streamId: 'their-id' });
  const step = new DialbackInitiator(host);
  if (options.supported ?? true) step.declared();
  return { host, step };
}

describe('the dialback step, initiating', () => {
  test('a pair asked for before the step runs is asserted when it does, with the key for the peer stream (XEP-0220 section 2.1.1)', () => {
    const { host, step } = started();
    step.request(PAIR);
    assert.deepEqual(host.wire, []);
    assert.equal(step.begin(), 'done');
    const key = dialbackKey('s3cr3t', 'b.example', 'a.example', 'their-id');
    assert.match(host.wire[0]!, new RegExp(`^<result xmlns=["']jabber:server:dialback["'] from=["']a.example["'] to=["']b.example["']>${key}</result>$`));
  });

  test('a pair asked for later is asserted at once', () => {
    const { host, step } = started();
    step.begin();
    step.request(PAIR);
    step.request(PAIR);
    assert.equal(host.wire.length, 1, 'one request per pair');
  });

  test('valid authorizes the pair; invalid and error refuse it with the right condition', () => {
    const { host, step } = started();
    step.begin();
    for (const local of ['a.example', 'c.example', 'd.example']) step.request({ local, remote: 'b.example' });
    step.handle(answer('valid'));
    step.handle(answer('invalid', 'b.example', 'c.example'));
    step.handle(db("<db:result from='b.example' to='d.example' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>"));
    assert.deepEqual(host.authorizedPairs, [{ ...PAIR, method: 'dialback' }]);
    assert.deepEqual(host.refusedPairs.map(({ local, error }) => [local, error.condition]), [['c.example', 'internal-server-error'], ['d.example', 'remote-server-timeout']]);
    assert.match(host.refusedPairs[1]!.error.message, /item-not-found/);
    assert.equal(step.waiting, 0);
  });

  test('answers to nothing we asked, and requests, are ignored (XEP-0220 section 3.1)', () => {
    const { host, step } = started();
    step.begin();
    step.handle(answer('valid'));
    step.request(PAIR);
    step.handle(db("<db:result from='b.example' to='a.example'>key</db:result>"));
    step.handle(answer('valid', 'evil.example'));
    assert.deepEqual(host.authorizedPairs, []);
    assert.equal(step.waiting, 1);
  });

  test('a pair settled by SASL EXTERNAL needs no request', () => {
    const { host, step } = started();
    step.request(PAIR);
    step.settle(PAIR);
    step.begin();
    assert.deepEqual([host.wire, step.waiting], [[], 0]);
  });

  test('a peer with neither SASL nor dialback fails the connection', () => {
    const { host, step } = started({ supported: false });
    step.request(PAIR);
    step.begin();
    assert.match(host.failures[0]!.error.message, /neither SASL EXTERNAL nor dialback/);
  });

  test('the dialback feature, and its errors, are noticed in any features', () => {
    const { step } = started({ supported: false });
    step.observe(parseElement(`<stream:features xmlns:stream='${NS_STREAMS}'><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>`));
    assert.equal(step.errorsOffered, true);
  });

  test('a verification is answered by the matching <db:verify/> only (section 2.1.2)', async () => {
    const { host, step } = started();
    const outcome = step.verify('b.example', 'a.example', 'our-id', 'k3y');
    assert.match(host.wire[0]!, /^<verify [^>]*from=["']a.example["'] to=["']b.example["'] id=["']our-id["']>k3y<\/verify>$/);
    step.handle(db("<db:verify from='b.example' to='a.example' id='other-id' type='valid'/>"));
    step.handle(db("<db:verify from='b.example' to='a.example' id='our-id' type='invalid'/>"));
    assert.equal(await outcome, 'invalid');
  });

  test('verifications waiting are bounded, and fail when the stream goes', async () => {
    const { step } = started();
    const waiting = Array.from({ length: MAX_PENDING_VERIFIES }, (_, n) => step.verify('b.example', 'a.example', `id-${n}`, 'k'));
    assert.equal(await step.verify('b.example', 'a.example', 'one-more', 'k'), 'busy');
    step.closed();
    assert.deepEqual(new Set(await Promise.all(waiting)), new Set(['error']));
  });

  test('a peer offering the pairs extension is asked without a key once the connection is authenticated', () => {
    const { host, step } = started();
    step.observe(parseElement(`<stream:features xmlns:stream='${NS_STREAMS}'><pairs xmlns='urn:xmpp:trellis:s2s:0'/></stream:features>`));
    step.begin();
    step.request(PAIR);
    assert.match(host.wire[0]!, />[^<]+<\/result>$/, 'not authenticated yet: the key of standard dialback');
    host.authenticated = true;
    step.request({ local: 'c.example', remote: 'b.example' });
    assert.match(host.wire[1]!, /^<result xmlns=["']jabber:server:dialback["'] from=["']c.example["'] to=["']b.example["']\/>$/);
    // Refused keyless: asked again with a key (standard dialback); refused again, the pair is refused.
    step.handle(db("<db:result from='b.example' to='c.example' type='error'><error type='auth' xmlns='jabber:server'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>"));
    assert.match(host.wire[2]!, /from=["']c.example["'] to=["']b.example["']>[^<]+<\/result>$/);
    assert.equal(host.refusedPairs.length, 0);
    step.handle(answer('invalid', 'b.example', 'c.example'));
    assert.deepEqual(host.refusedPairs.map((pair) => pair.local), ['c.example']);
  });

  test('invalid for a pair granted earlier revokes it on a connection with per-pair authorization only', () => {
    const { host, step } = started();
    step.begin();
    step.handle(answer('invalid'));
    assert.deepEqual(host.revokedPairs, [], 'a standard stream: an unsolicited answer is ignored');
    step.observe(parseElement(`<stream:features xmlns:stream='${NS_STREAMS}'><pairs xmlns='urn:xmpp:trellis:s2s:0'/></stream:features>`));
    step.handle(answer('invalid'));
    assert.deepEqual(host.revokedPairs, [PAIR]);
  });

  describe('on a host-named stream', () => {
    const hostNamed = () => {
      const host = new FakeStepHost({ role: 'initiator', local: 'xmpp.a.example', remote: 'xmpp.b.example', secure: true, hostNamed: true });
      const step = new DialbackInitiator(host);
      step.declared();
      step.observe(parseElement(`<stream:features xmlns:stream='${NS_STREAMS}'><pairs xmlns='urn:xmpp:trellis:s2s:0'/></stream:features>`));
      return { host, step };
    };

    test('host activation takes the request where both hosts have it; otherwise it is asked without a key', () => {
      const { host, step } = hostNamed();
      host.activation = true;
      step.request(PAIR);
      step.begin();
      assert.deepEqual([host.activating, host.wire, step.waiting], [[PAIR], [], 0]);
      host.activation = false;
      step.request({ local: 'a2.example', remote: 'b.example' });
      assert.match(host.wire[0]!, /^<result xmlns=["']jabber:server:dialback["'] from=["']a2.example["'] to=["']b.example["']\/>$/);
    });

    test('after activation failed, the pair is asked without a key; refused, it goes the standard way (no keyed retry here)', () => {
      const { host, step } = hostNamed();
      host.activation = true;
      step.begin();
      step.request(PAIR, false);
      assert.deepEqual(host.activating, []);
      assert.match(host.wire[0]!, /\/>$/, 'keyless');
      step.handle(db("<db:result from='b.example' to='a.example' type='error'><error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>"));
      assert.equal(host.wire.length, 1, 'no request with a key');
      assert.equal(host.refusedPairs.length, 1);
    });
  });
});
