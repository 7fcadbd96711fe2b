import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElement } from '../xml/parse-element.ts';
import { FakeStepHost, type FakeHostOptions } from '../../test/support/step-host.ts';
import { ReversePairs } from './reverse-pairs.ts';

// The initiator (a.example's server opened the connection) and the receiver (b.example's), as in XEP-0288 section 2.2.
const initiator = (options: Partial<FakeHostOptions> = {}) => new FakeStepHost({ role: 'initiator', local: 'a.example', remote: 'b.example', secure: true, hosts: ['a.example', 'muc.a.example'], ...options });
const receiver = (options: Partial<FakeHostOptions> = {}) => new FakeStepHost({ role: 'receiver', local: 'b.example', remote: 'a.example', secure: true, ...options });
const request = (from: string, to: string) => parseElement(`<db:result xmlns:db='jabber:server:dialback' from='${from}' to='${to}'/>`);
const answer = (from: string, to: string, type: string, inner = '') => parseElement(`<db:result xmlns:db='jabber:server:dialback' from='${from}' to='${to}' type='${type}'>${inner}</db:result>`);
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('pairs asked for by the receiving side of a bidi connection', () => {
  describe('receiving side: asks', () => {
    test('a keyless request goes out; a valid answer authorizes the pair', () => {
      const host = receiver();
      const reverse = new ReversePairs(host);
      reverse.request({ local: 'b.example', remote: 'muc.a.example' });
      reverse.request({ local: 'b.example', remote: 'muc.a.example' });
      assert.equal(host.wire.length, 1, 'asked once');
      assert.match(host.wire[0]!, /^<db:result [^>]*from=["']b\.example["'] to=["']muc\.a\.example["']\/>$|^<result xmlns=["']jabber:server:dialback["'] from=["']b\.example["'] to=["']muc\.a\.example["']\/>$/);
      const valid = answer('muc.a.example', 'b.example', 'valid');
      assert.equal(reverse.claims(valid), true);
      reverse.handle(valid);
      assert.deepEqual(host.authorizedPairs, [{ local: 'b.example', remote: 'muc.a.example', method: 'certificate' }]);
      reverse.closed();
    });

    test('an error answer refuses the pair with the peer\'s reason; the stream is left alone', () => {
      const host = receiver();
      const reverse = new ReversePairs(host);
      reverse.request({ local: 'b.example', remote: 'muc.a.example' });
      reverse.handle(answer('muc.a.example', 'b.example', 'error', "<error type='auth' xmlns='jabber:server'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>b.example is not proven</text></error>"));
      assert.equal(host.refusedPairs.length, 1);
      assert.match(host.refusedPairs[0]!.error.message, /refused b\.example on the connection it opened: b\.example is not proven/);
      assert.deepEqual([host.authorizedPairs, host.failures], [[], []]);
    });

    test('answers to nothing asked are not ours, except invalid, which revokes a granted pair', () => {
      const host = receiver();
      const reverse = new ReversePairs(host);
      assert.equal(reverse.claims(answer('a.example', 'b.example', 'valid')), false, 'left to dialback, which ignores it');
      assert.equal(reverse.claims(request('a.example', 'b.example')), false, "the peer's requests are dialback's");
      const invalid = answer('muc.a.example', 'b.example', 'invalid');
      assert.equal(reverse.claims(invalid), true);
      reverse.handle(invalid);
      assert.deepEqual(host.revokedPairs, [{ local: 'b.example', remote: 'muc.a.example' }]);
      assert.deepEqual(host.authorizedPairs, []);
    });

    test('no answer within the negotiation time: refused', async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const host = receiver();
      const reverse = new ReversePairs(host);
      reverse.request({ local: 'b.example', remote: 'muc.a.example' });
      t.mock.timers.tick(29_000);
      assert.equal(host.refusedPairs.length, 0);
      t.mock.timers.tick(1_000);
      assert.match(host.refusedPairs[0]!.error.message, /no answer for b\.example within 30 s/);
      reverse.handle(answer('muc.a.example', 'b.example', 'valid'));
      assert.deepEqual(host.authorizedPairs, [], 'a late answer authorizes nothing');
    });
  });

  describe('initiating side: grants', () => {
    test('a sender proven for the connection is granted and bound both ways', async () => {
      const host = initiator();
      host.proof = { proven: true, method: 'certificate', level: 'trusted', reason: 'the certificate names b2.example' };
      const reverse = new ReversePairs(host);
      const asked = request('b2.example', 'muc.a.example');
      assert.equal(reverse.claims(asked), true);
      assert.equal(reverse.claims(answer('b.example', 'a.example', 'valid')), false, 'answers to our own requests are dialback\'s');
      reverse.handle(asked);
      await settled();
      assert.match(host.wire[0]!, /type=["']valid["']/);
      assert.match(host.wire[0]!, /from=["']muc\.a\.example["'] to=["']b2\.example["']/);
      assert.deepEqual(host.grantedPairs, [{ local: 'muc.a.example', remote: 'b2.example', method: 'certificate' }]);
    });

    test('refusals are dialback errors that leave the stream: not proven, not hosted, below the level policy requires', async () => {
      const cases: { name: string; options?: Partial<FakeHostOptions>; proof?: FakeStepHost['proof']; to?: string; condition: RegExp; text: RegExp }[] = [
        { name: 'not proven', condition: /not-authorized/, text: /b2\.example is not proven on this connection: no certificate/, proof: { proven: false, reason: 'no certificate' } },
        { name: 'not hosted', to: 'elsewhere.example', condition: /item-not-found/, text: /does not host elsewhere\.example/ },
        { name: 'too weak', options: { level: 'trusted' }, proof: { proven: true, method: 'unsigned-srv', level: 'encrypted', reason: 'an unsigned SRV record' }, condition: /not-authorized/, text: /an unsigned SRV record, but/ },
        { name: 'denied', options: { denyDomains: ['b2.example'] }, condition: /not-allowed|policy-violation|forbidden/, text: /b2\.example/ },
      ];
      for (const { name, options, proof, to, condition, text } of cases) {
        const host = initiator(options);
        if (proof) host.proof = proof;
        new ReversePairs(host).handle(request('b2.example', to ?? 'muc.a.example'));
        await settled();
        assert.equal(host.wire.length, 1, name);
        assert.match(host.wire[0]!, /type=["']error["']/, name);
        assert.match(host.wire[0]!, condition, name);
        assert.match(host.wire[0]!, text, name);
        assert.deepEqual([host.grantedPairs, host.failures], [[], []], name);
      }
    });

    test('one check per pair at a time', async () => {
      const host = initiator();
      host.proof = { proven: true, method: 'certificate', level: 'trusted', reason: 'named' };
      const reverse = new ReversePairs(host);
      reverse.handle(request('b2.example', 'muc.a.example'));
      reverse.handle(request('b2.example', 'muc.a.example'));
      await settled();
      assert.equal(host.grantedPairs.length, 1);
    });
  });
});
