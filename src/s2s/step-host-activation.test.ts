/**
 * Host activation between two steps wired back to back (what one sends, serialized and parsed,
 * the other handles), with real certificates from a test CA and real signatures.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createTestCa, type TestCa } from '../../test/support/lab/ca.ts';
import { testPolicy } from '../../test/support/step-host.ts';
import { domainCredentials, type DomainCredentials } from '../delegation/host-activation.ts';
import { silentLogger } from '../util/log.ts';
import { Element, NS_STREAMS } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import type { StanzaError } from '../xml/stanza-error.ts';
import type { Pair } from './binding-table.ts';
import type { S2sContext } from './context.ts';
import type { Role } from './negotiation.ts';
import { HostActivation, type ActivationHost } from './step-host-activation.ts';

const BINDING = Buffer.alloc(32, 1);

interface SideOptions {
  role: Role;
  hosted: Record<string, DomainCredentials>;
  anchors: X509Certificate[];
  /** s2s.delegation.methods includes host_activation (default true) */
  enabled?: boolean;
  bidi?: boolean;
  /** null: no channel binding (TLS 1.2) */
  channelBinding?: Buffer | null;
}

class Side implements ActivationHost {
  readonly role: Role;
  readonly context: S2sContext;
  readonly logger = silentLogger();
  /** what warnOfPeer was told, message by message */
  readonly peerWarnings: string[] = [];
  warnOfPeer(message: string): void {
    this.peerWarnings.push(message);
  }
  readonly remoteAddress = '192.0.2.1';
  readonly hostNamed = true;
  readonly bidi: boolean;
  readonly step: HostActivation;
  readonly activatedPairs: Pair[] = [];
  readonly failedPairs: (Pair & { error: StanzaError })[] = [];
  /** every element sent, serialized */
  readonly sent: string[] = [];
  peer: Side | undefined;
  /** changes (or drops, with undefined) what goes to the peer */
  tamper: (xml: string) => string | undefined = (xml) => xml;
  readonly #hosted: Record<string, DomainCredentials>;
  readonly #binding: Buffer | null;

  constructor(options: SideOptions) {
    this.role = options.role;
    this.bidi = options.bidi ?? true;
    this.#hosted = options.hosted;
    this.#binding = options.channelBinding === undefined ? BINDING : options.channelBinding;
    this.context = {
      config: { negotiation_timeout: 30 },
      anchors: options.anchors,
      delegation: { methods: new Set(options.enabled === false ? [] : ['host_activation']) },
      router: { hosts: new Map(Object.keys(options.hosted).map((domain) => [domain, {}])) },
      policy: testPolicy('trusted'),
    } as unknown as S2sContext;
    this.step = new HostActivation(this);
  }

  write(element: Element): void {
    this.send(element);
  }

  send(element: Element): boolean {
    const xml = serialize(element, 'jabber:server');
    this.sent.push(xml);
    const delivered = this.tamper(xml);
    if (delivered !== undefined) setImmediate(() => this.peer!.step.handle(parseElement(delivered)));
    return true;
  }

  channelBinding(): Buffer | undefined {
    return this.#binding ?? undefined;
  }

  credentials(domain: string): DomainCredentials | undefined {
    return this.#hosted[domain];
  }

  activated(pair: Pair): void {
    this.activatedPairs.push(pair);
  }

  activationFailed(pair: Pair, error: StanzaError): void {
    this.failedPairs.push({ ...pair, error });
  }
}

/** Connects two sides as initiator and receiver and runs the advertisement (receiver's feature, initiator's answer). */
async function connect(initiator: Side, receiver: Side): Promise<void> {
  initiator.peer = receiver;
  receiver.peer = initiator;
  const features = new Element('features', NS_STREAMS);
  receiver.step.offer(features);
  initiator.step.begin(parseElement(serialize(features, NS_STREAMS)));
  await new Promise((resolve) => setImmediate(resolve));
}

async function settled(...sides: Side[]): Promise<void> {
  const deadline = Date.now() + 5000;
  const busy = () => sides.some((side) => side.step.waiting > 0);
  while (busy() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  // Let the last element (activate, failure) reach the other side.
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('host activation (both hosts advertise it)', () => {
  let ca: TestCa;
  let anchors: X509Certificate[];
  const credentials: Record<string, DomainCredentials> = {};

  before(async () => {
    ca = await createTestCa();
    anchors = [new X509Certificate(ca.certPem)];
    for (const domain of ['a.example', 'a2.example', 'b.example']) {
      const issued = await ca.issue({ names: [domain], key: domain === 'b.example' ? 'rsa' : 'ecdsa' });
      const loaded = domainCredentials({ cert: Buffer.from(issued.certPem), key: Buffer.from(issued.keyPem) });
      assert.ok(!(loaded instanceof Error));
      credentials[domain] = loaded;
    }
  });

  const sides = async (options: { initiator?: Partial<SideOptions>; receiver?: Partial<SideOptions> } = {}) => {
    const initiator = new Side({ role: 'initiator', hosted: { 'a.example': credentials['a.example']!, 'a2.example': credentials['a2.example']! }, anchors, ...options.initiator });
    const receiver = new Side({ role: 'receiver', hosted: { 'b.example': credentials['b.example']! }, anchors, ...options.receiver });
    await connect(initiator, receiver);
    return { initiator, receiver };
  };

  test('the initiator proves a.example, the receiver b.example: both bind the pair, each from its side', async () => {
    const { initiator, receiver } = await sides();
    assert.match(initiator.sent[0]!, /^<activation xmlns=["']urn:xmpp:trellis:activation:0["']\/>$/);
    assert.equal(initiator.step.request({ local: 'a.example', remote: 'b.example' }), true);
    await settled(initiator, receiver);
    assert.deepEqual(initiator.activatedPairs, [{ local: 'a.example', remote: 'b.example' }]);
    assert.deepEqual(receiver.activatedPairs, [{ local: 'b.example', remote: 'a.example' }]);
    assert.deepEqual(initiator.sent.slice(1).map((xml) => /^<(\w+)/.exec(xml)![1]), ['request', 'proof', 'activate']);
    assert.deepEqual(receiver.sent.map((xml) => /^<(\w+)/.exec(xml)![1]), ['challenge', 'answer']);
    assert.match(initiator.sent[2]!, /<signature algorithm=["']ecdsa-p256-sha256["']>/);
    assert.match(receiver.sent[1]!, /<signature algorithm=["']rsa-pss-sha256["']>/);
  });

  test('on a bidi connection the receiver asks too, for its own pairs', async () => {
    const { initiator, receiver } = await sides();
    assert.equal(receiver.step.request({ local: 'b.example', remote: 'a2.example' }), true);
    await settled(initiator, receiver);
    assert.deepEqual(receiver.activatedPairs, [{ local: 'b.example', remote: 'a2.example' }]);
    assert.deepEqual(initiator.activatedPairs, [{ local: 'a2.example', remote: 'b.example' }]);
  });

  test('without bidi the receiver cannot ask: the pair takes another way', async () => {
    const { receiver } = await sides({ receiver: { bidi: false }, initiator: { bidi: false } });
    assert.equal(receiver.step.canRequest, false);
    assert.equal(receiver.step.request({ local: 'b.example', remote: 'a.example' }), false);
  });

  test('missing advertisement (off on one side, or no channel binding): nothing is asked, the caller falls back', async () => {
    for (const options of [{ receiver: { enabled: false } }, { initiator: { enabled: false } }, { receiver: { channelBinding: null } }]) {
      const { initiator, receiver } = await sides(options);
      assert.equal(initiator.step.request({ local: 'a.example', remote: 'b.example' }), false);
      assert.equal(receiver.step.canRequest, false);
    }
    const both = await sides();
    assert.deepEqual([both.initiator.step.canRequest, both.receiver.step.canRequest], [true, true]);
  });

  test('a bad signature is refused: the receiver answers not-authorized and binds nothing', async () => {
    const { initiator, receiver } = await sides();
    initiator.tamper = (xml) => xml.replace(/(<signature [^>]*>)(.)/, (_, open: string, first: string) => open + (first === 'A' ? 'B' : 'A'));
    initiator.step.request({ local: 'a.example', remote: 'b.example' });
    await settled(initiator, receiver);
    assert.deepEqual([initiator.activatedPairs, receiver.activatedPairs], [[], []]);
    assert.equal(initiator.failedPairs.length, 1);
    assert.match(initiator.failedPairs[0]!.error.message, /refused activation \(not-authorized\): the signature of a\.example does not verify/);
  });

  test('a proof made for another connection (another channel binding) does not verify here', async () => {
    const { initiator, receiver } = await sides({ initiator: { channelBinding: Buffer.alloc(32, 2) } });
    initiator.step.request({ local: 'a.example', remote: 'b.example' });
    await settled(initiator, receiver);
    assert.deepEqual(receiver.activatedPairs, []);
    assert.match(initiator.failedPairs[0]!.error.message, /not-authorized/);
  });

  test("a target signing with a key that is not its certificate's: the initiator cancels, nothing is bound", async () => {
    const impostor = { ...credentials['b.example']!, key: credentials['a2.example']!.key, algorithm: credentials['a2.example']!.algorithm };
    const { initiator, receiver } = await sides({ receiver: { hosted: { 'b.example': impostor } } });
    initiator.step.request({ local: 'a.example', remote: 'b.example' });
    await settled(initiator, receiver);
    assert.deepEqual([initiator.activatedPairs, receiver.activatedPairs], [[], []]);
    assert.match(initiator.failedPairs[0]!.error.message, /does not fit the certificate's key|does not verify/);
    assert.match(initiator.sent.at(-1)!, /^<cancel /);
  });

  test('an unknown target domain: item-not-found', async () => {
    const { initiator, receiver } = await sides();
    initiator.step.request({ local: 'a.example', remote: 'c.example' });
    await settled(initiator, receiver);
    assert.match(receiver.sent[0]!, /^<failure [^>]*><item-not-found xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    assert.match(initiator.failedPairs[0]!.error.message, /item-not-found/);
  });

  test('a certificate from a CA the receiver does not trust proves nothing', async () => {
    const other = await createTestCa('Other CA');
    const { initiator, receiver } = await sides({ receiver: { anchors: [new X509Certificate(other.certPem)] } });
    initiator.step.request({ local: 'a.example', remote: 'b.example' });
    await settled(initiator, receiver);
    assert.deepEqual(receiver.activatedPairs, []);
    assert.match(initiator.failedPairs[0]!.error.message, /not trusted/);
  });

  test('an answer or challenge nobody asked for is ignored; an activate without a proof is refused', async () => {
    const { initiator, receiver } = await sides();
    initiator.step.handle(parseElement("<challenge xmlns='urn:xmpp:trellis:activation:0' from='b.example' to='a.example' nonce='AAAA'/>"));
    receiver.step.handle(parseElement("<activate xmlns='urn:xmpp:trellis:activation:0' from='a.example' to='b.example'/>"));
    await settled(initiator, receiver);
    assert.deepEqual([initiator.activatedPairs, receiver.activatedPairs, initiator.sent.length], [[], [], 1]);
    assert.match(receiver.sent[0]!, /^<failure [^>]*><unexpected-request /);
  });
});
