import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElement } from '../xml/parse-element.ts';
import { Element, NS_STREAMS } from '../xml/element.ts';
import { FakeStepHost } from '../../test/support/step-host.ts';
import { MAX_WAITING, Negotiation, type Step, type StepResult } from './negotiation.ts';
import { DialbackInitiator } from './step-dialback-initiator.ts';
import { saslExternalStep } from './step-sasl-external.ts';
import { tlsStep } from './step-tls.ts';

const features = (inner: string) => parseElement(`<stream:features xmlns:stream='${NS_STREAMS}'>${inner}</stream:features>`);
const EXTERNAL = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms>";
const DIALBACK = "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>";

/** An initiator with the real steps, as a connection we opened to ejabberd would have them. */
function initiator() {
  const host = new FakeStepHost({ role: 'initiator', local: 'tr.example', remote: 'ej.example', secure: true, certificates: { 'ej.example': 'valid' } });
  const dialback = new DialbackInitiator(host);
  const negotiation = new Negotiation('initiator', [tlsStep(host), saslExternalStep(host), dialback]);
  host.negotiation = negotiation;
  return { host, dialback, negotiation };
}

describe('negotiation as ordered steps', () => {
  test('COMPAT(ejabberd): a dialback verify asked for while SASL EXTERNAL is in flight is written only after the restart', async () => {
    // ejabberd resets its parser at <success/>: whatever we wrote after <auth/> would reach a
    // stream without our header, where the db: prefix is unbound (RFC 6120 section 6.3.5).
    const { host, dialback, negotiation } = initiator();
    negotiation.features(features(EXTERNAL + DIALBACK));
    assert.equal(negotiation.owner, 'sasl-external');
    const outcome = dialback.verify('ej.example', 'tr.example', 'their-stream', 'a-key');
    assert.equal(host.wire.length, 1);
    assert.match(host.wire[0]!, /^<auth [^>]*mechanism=["']EXTERNAL["']>=<\/auth>$/);
    await negotiation.handle(parseElement("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"));
    assert.deepEqual(host.wire.slice(1), ['(restart)'], 'nothing between <success/> and the new stream');
    negotiation.features(features(''));
    assert.equal(host.wire.length, 3);
    assert.match(host.wire[2]!, /^<verify xmlns=["']jabber:server:dialback["'] from=["']tr.example["'] to=["']ej.example["'] id=["']their-stream["']>a-key<\/verify>$/);
    assert.deepEqual(host.authorizedPairs, [{ local: 'tr.example', remote: 'ej.example', method: 'sasl-external' }]);
    await negotiation.handle(parseElement("<db:verify xmlns:db='jabber:server:dialback' from='ej.example' to='tr.example' id='their-stream' type='valid'/>"));
    assert.equal(await outcome, 'valid');
  });

  test('SASL EXTERNAL refused: dialback begins on the same features, and the waiting writes follow', async () => {
    const { host, dialback, negotiation } = initiator();
    dialback.request({ local: 'tr.example', remote: 'ej.example' });
    dialback.observe(features(DIALBACK));
    negotiation.features(features(EXTERNAL + DIALBACK));
    void dialback.verify('ej.example', 'tr.example', 'id', 'k');
    await negotiation.handle(parseElement("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"));
    assert.equal(negotiation.owner, undefined);
    assert.ok(negotiation.complete && negotiation.open);
    assert.deepEqual(host.wire.map((xml) => /^<(\w+)/.exec(xml)?.[1]), ['auth', 'verify', 'result']);
  });

  test('the initiator writes nothing else before its steps have run', () => {
    const host = new FakeStepHost({ role: 'initiator', local: 'tr.example', remote: 'pr.example' });
    const negotiation = new Negotiation('initiator', [tlsStep(host)]);
    const ran: string[] = [];
    negotiation.whenOpen(() => ran.push('early'));
    negotiation.features(features("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    assert.deepEqual([ran, negotiation.owner], [[], 'tls']);
    negotiation.features(features(''));
    assert.deepEqual(ran, [], 'the TLS exchange has not ended: the features came before <proceed/>');
  });

  test('the TLS step owns the stream from <proceed/> to the new stream, then the next step runs', async () => {
    const host = new FakeStepHost({ role: 'initiator', local: 'tr.example', remote: 'pr.example' });
    const negotiation = new Negotiation('initiator', [tlsStep(host), saslExternalStep(host)]);
    const ran: string[] = [];
    negotiation.features(features("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    negotiation.whenOpen(() => ran.push('waited'));
    await negotiation.handle(parseElement("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    assert.deepEqual([ran, negotiation.owner, host.secure], [[], 'tls', true]);
    negotiation.features(features(''));
    assert.deepEqual([ran, negotiation.complete], [['waited'], true]);
  });

  test('the receiver is open once its header is out, closed while a step runs, open at the next header', async () => {
    const host = new FakeStepHost({ role: 'receiver', local: 'tr.example', remote: 'pr.example', level: 'verified' });
    const negotiation = new Negotiation('receiver', [tlsStep(host)]);
    const ran: string[] = [];
    negotiation.headerSent();
    negotiation.whenOpen(() => ran.push('first'));
    const handshake = negotiation.handle(parseElement("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    negotiation.whenOpen(() => ran.push('during TLS'));
    await handshake;
    assert.deepEqual([ran, negotiation.owner], [['first'], 'tls']);
    negotiation.headerSent();
    assert.deepEqual(ran, ['first', 'during TLS']);
  });

  test('the receiver offers each step in order, and nothing after a step that must stand alone', () => {
    const offered = (level: 'verified' | 'encrypted') => {
      const host = new FakeStepHost({ role: 'receiver', local: 'tr.example', remote: 'pr.example', level });
      const element = new Element('features', NS_STREAMS);
      const alone = new Negotiation('receiver', [tlsStep(host), saslExternalStep(host)]).offer(element);
      return [alone, element.elements().map((child) => child.name)];
    };
    assert.deepEqual(offered('encrypted'), [true, ['starttls']]);
    assert.deepEqual(offered('verified'), [false, ['starttls']]);
  });

  test('a step that fails the connection stops the steps after it', () => {
    const host = new FakeStepHost({ role: 'initiator', local: 'tr.example', remote: 'pr.example', level: 'encrypted' });
    const negotiation = new Negotiation('initiator', [tlsStep(host), saslExternalStep(host)]);
    host.fail = (error) => {
      host.failures.push({ error });
      negotiation.clear();
    };
    negotiation.features(features(EXTERNAL));
    assert.deepEqual([host.failures.length, host.wire, negotiation.open], [1, [], false]);
  });

  test('an element no step claims is left to the connection', () => {
    assert.equal(new Negotiation('receiver', []).handle(parseElement('<message/>')), false);
  });

  test('what waits for the stream is bounded', () => {
    const negotiation = new Negotiation('initiator', [{ name: 'tls', begin: (): StepResult => 'running', claims: () => false, handle: (): StepResult => 'done' } satisfies Step]);
    negotiation.features(undefined);
    for (let n = 0; n < MAX_WAITING; n++) assert.ok(negotiation.whenOpen(() => {}));
    assert.equal(negotiation.whenOpen(() => {}), false);
  });
});
