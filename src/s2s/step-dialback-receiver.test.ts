import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamError } from '../net/stream-errors.ts';
import { Element, NS_STREAMS } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { FakeStepHost, type FakeHostOptions } from '../../test/support/step-host.ts';
import { dialbackKey } from './dialback-key.ts';
import { DialbackReceiver, MAX_PENDING_REQUESTS, type Authoritative } from './step-dialback-receiver.ts';
import type { VerifyOutcome } from './step-dialback-initiator.ts';

const db = (xml: string) => parseElement(xml.replace(/^<db:(\w+)/, "<db:$1 xmlns:db='jabber:server:dialback'"));
const request = (from = 'b.example', to = 'a.example') => db(`<db:result from='${from}' to='${to}'>k3y</db:result>`);
const settle = () => new Promise((resolve) => setImmediate(resolve));

function receiver(options: Partial<FakeHostOptions> = {}, outcome: VerifyOutcome = 'valid') {
  const host = new FakeStepHost({ role: 'receiver', local: 'a.example', remote: 'b.example', secure: true, secret: 's3cr3t', ...options });
  const asked: string[] = [];
  const authoritative: Authoritative = async (sender, receiving, key) => {
    asked.push(`${sender} ${receiving} ${key}`);
    return outcome;
  };
  return { host, asked, step: new DialbackReceiver(host, authoritative) };
}

describe('the dialback step, receiving', () => {
  test('offers dialback with errors, unless the peer must be trusted and is not, or is authenticated already', () => {
    const offered = (options: Partial<FakeHostOptions>, authenticated = false) => {
      const { host, step } = receiver(options);
      host.authenticated = authenticated;
      const features = new Element('features', NS_STREAMS);
      step.offer(features);
      return features.getChild('dialback', 'urn:xmpp:features:dialback')?.getChild('errors', 'urn:xmpp:features:dialback') !== undefined;
    };
    assert.equal(offered({}), true);
    assert.equal(offered({ level: 'trusted' }), false);
    assert.equal(offered({ level: 'trusted', certificates: { 'b.example': 'valid' } }), true);
    assert.equal(offered({}, true), false);
  });

  test('a key the authoritative server confirms authorizes the pair (XEP-0220 section 2.2.1)', async () => {
    const { host, step, asked } = receiver();
    assert.equal(step.handle(request()), 'done');
    await settle();
    assert.deepEqual(asked, ['b.example a.example k3y']);
    assert.match(host.wire[0]!, /^<result [^>]*from=["']a.example["'] to=["']b.example["'] type=["']valid["']\/>$/);
    assert.deepEqual(host.authorizedPairs, [{ local: 'a.example', remote: 'b.example', method: 'dialback' }]);
  });

  test('a certificate valid for the sender answers at once (XEP-0344 section 2.4)', () => {
    const { host, step, asked } = receiver({ certificates: { 'b.example': 'valid' } });
    step.handle(request());
    assert.deepEqual([asked, host.authorizedPairs[0]?.method], [[], 'certificate']);
  });

  test('the first pair invalid ends the stream; a later one gets forbidden and the stream lives', async () => {
    const first = receiver({}, 'invalid');
    first.step.handle(request());
    await settle();
    assert.match(first.host.wire[0]!, /type=["']invalid["']/);
    assert.equal(first.host.failures.length, 1);
    const later = receiver({}, 'invalid');
    later.host.authenticated = true;
    later.step.handle(request('c.example'));
    await settle();
    assert.match(later.host.wire[0]!, /type=["']error["'][\s\S]*<forbidden /);
    assert.equal(later.host.failures.length, 0);
  });

  test('an unreachable authoritative server, or one too busy, gets a dialback error', async () => {
    for (const [outcome, condition] of [['error', 'remote-server-not-found'], ['busy', 'resource-constraint']] as const) {
      const { host, step } = receiver({}, outcome);
      step.handle(request());
      await settle();
      assert.match(host.wire[0]!, new RegExp(`type=["']error["'][\\s\\S]*<${condition} `));
      assert.deepEqual(host.authorizedPairs, []);
    }
  });

  test('refusals before any callback: unhosted target, policy needing TLS or a trusted certificate (section 2.5)', () => {
    const cases: [Partial<FakeHostOptions>, string, string][] = [
      [{}, 'z.example', 'item-not-found'],
      [{ secure: false }, 'a.example', 'policy-violation'],
      [{ level: 'trusted', certificates: { 'b.example': 'untrusted' } }, 'a.example', 'not-authorized'],
    ];
    for (const [options, to, condition] of cases) {
      const { host, step, asked } = receiver(options);
      step.handle(request('b.example', to));
      assert.match(host.wire[0]!, new RegExp(`<${condition} `), condition);
      assert.deepEqual(asked, []);
    }
  });

  test('requests being checked are bounded per connection', () => {
    const host = new FakeStepHost({ role: 'receiver', local: 'a.example', remote: 'b.example', secure: true });
    const step = new DialbackReceiver(host, () => new Promise<VerifyOutcome>(() => {}));
    for (let n = 0; n < MAX_PENDING_REQUESTS; n++) step.handle(request(`s${n}.example`));
    assert.deepEqual(host.wire, []);
    step.handle(request('one-more.example'));
    assert.match(host.wire[0]!, /<resource-constraint /);
  });

  test('as authoritative server: our own key is valid, another is not (section 2.2.2)', () => {
    const { host, step } = receiver();
    const key = dialbackKey('s3cr3t', 'b.example', 'a.example', 'the-id');
    step.handle(db(`<db:verify from='b.example' to='a.example' id='the-id'>${key}</db:verify>`));
    step.handle(db("<db:verify from='b.example' to='a.example' id='the-id'>0000</db:verify>"));
    assert.match(host.wire[0]!, /^<verify [^>]*from=["']a.example["'] to=["']b.example["'] type=["']valid["'] id=["']the-id["']\/>$/);
    assert.match(host.wire[1]!, /type=["']invalid["']/);
  });

  test('answers on a stream the peer opened are unsolicited and ignored; a request without addresses is improper', () => {
    const { host, step } = receiver();
    step.handle(db("<db:result from='b.example' to='a.example' type='valid'/>"));
    assert.deepEqual([host.wire, host.authorizedPairs], [[], []]);
    assert.throws(() => step.handle(db("<db:result to='a.example'>k</db:result>")), (error) => error instanceof StreamError && error.condition === 'improper-addressing');
  });

  test('the pairs extension is offered over TLS only', () => {
    const offered = (secure: boolean) => {
      const features = new Element('features', NS_STREAMS);
      receiver({ secure }).step.offer(features);
      return features.getChild('pairs', 'urn:xmpp:trellis:s2s:0') !== undefined;
    };
    assert.deepEqual([offered(true), offered(false)], [true, false]);
  });

  test('a keyless request is granted on the proof of the sender for this connection, no callback (draft-ietf-xmpp-dna-01 section 6)', async () => {
    const { host, step, asked } = receiver({ level: 'trusted' });
    host.proof = { proven: true, method: 'dnssec-srv', level: 'trusted', reason: 'signed SRV' };
    step.handle(db("<db:result from='b.example' to='a.example'/>"));
    await settle();
    assert.deepEqual(asked, []);
    assert.equal(host.perPair, true);
    assert.match(host.wire[0]!, /^<result [^>]*from=["']a.example["'] to=["']b.example["'] type=["']valid["']\/>$/);
    assert.deepEqual(host.authorizedPairs, [{ local: 'a.example', remote: 'b.example', method: 'dnssec-srv' }]);
  });

  test('a keyless request not proven, or proven below the required level, gets not-authorized and the stream lives', async () => {
    for (const proof of [
      { proven: false as const, reason: 'the SRV record of b.example is not DNSSEC-signed' },
      { proven: true as const, method: 'unsigned-srv' as const, level: 'encrypted' as const, reason: 'unsigned SRV' },
    ]) {
      const { host, step } = receiver({ level: 'trusted' });
      host.authenticated = true;
      host.proof = proof;
      step.handle(db("<db:result from='b.example' to='a.example'/>"));
      await settle();
      assert.match(host.wire[0]!, /type=["']error["'][\s\S]*<not-authorized /);
      assert.deepEqual([host.authorizedPairs, host.failures], [[], []]);
    }
  });

  test('policy is asked again before valid: a pair refused while its key was checked gets a policy-violation error, not valid', async () => {
    const { host } = receiver();
    let answer: (outcome: VerifyOutcome) => void = () => {};
    const step = new DialbackReceiver(host, () => new Promise<VerifyOutcome>((resolve) => (answer = resolve)));
    step.handle(request());
    // A reload denies the sender while its authoritative server is being asked.
    host.context.policy.replace(new FakeStepHost({ role: 'receiver', denyDomains: ['b.example'] }).context.policy.current);
    answer('valid');
    await settle();
    assert.equal(host.wire.length, 1);
    assert.doesNotMatch(host.wire[0]!, /type=["']valid["']/);
    assert.match(host.wire[0]!, /type=["']error["'][\s\S]*<policy-violation [\s\S]*s2s\.access\.deny_domains\[0\] \(b\.example\) denies b\.example/);
    assert.deepEqual(host.authorizedPairs, []);
  });

  test('a domain fronted here (docs/peering.md, "Fronting a plain peer"): requests for it are checked and verifications answered as for a hosted one', async () => {
    const { host, step, asked } = receiver({ fronted: ['inside.example'] });
    step.handle(request('b.example', 'inside.example'));
    await settle();
    assert.deepEqual(asked, ['b.example inside.example k3y']);
    assert.deepEqual(host.authorizedPairs, [{ local: 'inside.example', remote: 'b.example', method: 'dialback' }]);
    const key = dialbackKey('s3cr3t', 'b.example', 'inside.example', 'the-id');
    step.handle(db(`<db:verify from='b.example' to='inside.example' id='the-id'>${key}</db:verify>`));
    assert.match(host.wire.at(-1)!, /^<verify [^>]*from=["']inside.example["'] to=["']b.example["'] type=["']valid["'] id=["']the-id["']\/>$/);
    step.handle(db(`<db:verify from='b.example' to='other.example' id='the-id'>${key}</db:verify>`));
    assert.match(host.wire.at(-1)!, /<item-not-found /);
  });

  test('a keyless request for a domain we do not host: item-not-found', () => {
    const { host, step } = receiver();
    step.handle(db("<db:result from='b.example' to='elsewhere.example'/>"));
    assert.match(host.wire[0]!, /<item-not-found /);
  });

  test('a host-named stream offers the pairs extension without dialback, and refuses a request with a key', () => {
    const { host, step, asked } = receiver({ hostNamed: true, certificates: { 'b.example': 'valid' } });
    const features = new Element('features', NS_STREAMS);
    step.offer(features);
    assert.deepEqual(features.elements().map((element) => element.name), ['pairs']);
    step.handle(request());
    assert.match(host.wire[0]!, /<not-allowed /);
    assert.deepEqual([asked, host.authorizedPairs], [[], []]);
  });
});

