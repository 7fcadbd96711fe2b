import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Element, NS_STREAMS } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import type { S2sContext } from './context.ts';
import type { Role } from './negotiation.ts';
import type { CertificateVerdict } from './peer-certificate.ts';
import { HostNamedRefusals, hostNamedHeader, hostNamedStep, REFUSAL_MEMORY_MS, type HostNamedHost } from './step-host-named.ts';

const OFFER = "<host-named xmlns='urn:xmpp:trellis:s2s:0' name='xmpp.b.example'/>";
const STARTTLS = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>";
const features = (inner: string) => parseElement(`<stream:features xmlns:stream='${NS_STREAMS}'>${inner}</stream:features>`);

class FakeHost implements HostNamedHost {
  readonly logger = silentLogger();
  /** what warnOfPeer was told, message by message */
  readonly peerWarnings: string[] = [];
  warnOfPeer(message: string): void {
    this.peerWarnings.push(message);
  }
  readonly context: S2sContext;
  readonly wire: string[] = [];
  readonly role: Role;
  readonly secure: boolean;
  readonly mayUseHostNames: boolean;
  hostNamed = false;
  peerHost: string | undefined;
  requested: string | undefined;
  /** `hostName` null: host-named streams off */
  constructor(role: Role, secure = false, mayUseHostNames = true, hostName: string | null = role === 'initiator' ? 'xmpp.a.example' : 'xmpp.b.example') {
    this.role = role;
    this.secure = secure;
    this.mayUseHostNames = mayUseHostNames;
    this.context = { hostName: hostName ?? undefined } as S2sContext;
  }
  write(element: Element): void {
    this.wire.push(serialize(element, 'jabber:server'));
  }
  useHostNames(peerHost: string): void {
    this.peerHost = peerHost;
  }
  hostNamesRequested(peerHost: string): void {
    this.requested = peerHost;
  }
}

function offered(host: FakeHost): string {
  const element = new Element('features', NS_STREAMS);
  assert.equal(hostNamedStep(host).offer!(element), false, 'never ends the features');
  return serialize(element, NS_STREAMS);
}

describe('the host-named step', () => {
  describe('receiving', () => {
    test("offers our host's name before TLS, the confirmation after it on a host-named stream, nothing otherwise", () => {
      assert.match(offered(new FakeHost('receiver')), /<host-named xmlns=["']urn:xmpp:trellis:s2s:0["'] name=["']xmpp\.b\.example["']\/>/);
      assert.doesNotMatch(offered(new FakeHost('receiver', true)), /host-named/, 'a standard stream after TLS');
      const established = new FakeHost('receiver', true);
      established.hostNamed = true;
      assert.match(offered(established), /<host-named xmlns=["']urn:xmpp:trellis:s2s:0["']\/>/);
      assert.doesNotMatch(offered(new FakeHost('receiver', false, true, null)), /host-named/, 'host-named streams off');
    });

    test("takes the initiator's request before TLS, once; after TLS or when off it is ignored", () => {
      const request = parseElement("<host-named xmlns='urn:xmpp:trellis:s2s:0' name='XMPP.A.example'/>");
      const host = new FakeHost('receiver');
      const step = hostNamedStep(host);
      assert.equal(step.claims(request), true);
      assert.equal(step.handle(request), 'done');
      assert.equal(host.requested, 'xmpp.a.example');
      host.requested = undefined;
      step.handle(request);
      assert.equal(host.requested, undefined, 'asked twice');
      for (const late of [new FakeHost('receiver', true), new FakeHost('receiver', false, true, null)]) {
        hostNamedStep(late).handle(request);
        assert.equal(late.requested, undefined);
      }
      const nameless = new FakeHost('receiver');
      hostNamedStep(nameless).handle(parseElement("<host-named xmlns='urn:xmpp:trellis:s2s:0' name='not a domain'/>"));
      assert.equal(nameless.requested, undefined);
    });
  });

  describe('initiating', () => {
    test('offered with STARTTLS: asks with our host name, before <starttls/>, and uses host names from TLS on', () => {
      const host = new FakeHost('initiator');
      assert.equal(hostNamedStep(host).begin!(features(OFFER + STARTTLS)), 'done');
      assert.equal(host.wire.length, 1);
      assert.match(host.wire[0]!, /^<host-named xmlns=["']urn:xmpp:trellis:s2s:0["'] name=["']xmpp\.a\.example["']\/>$/);
      assert.equal(host.peerHost, 'xmpp.b.example');
    });

    test('missing advertisement (Prosody, ejabberd, jabberd2, a Trellis with it off): the standard stream, unchanged', () => {
      for (const inner of [STARTTLS, "<dialback xmlns='urn:xmpp:features:dialback'/>" + STARTTLS, OFFER, "<host-named xmlns='urn:xmpp:trellis:s2s:0'/>" + STARTTLS]) {
        const host = new FakeHost('initiator');
        hostNamedStep(host).begin!(features(inner));
        assert.deepEqual([host.wire, host.peerHost], [[], undefined], inner);
      }
      const host = new FakeHost('initiator');
      hostNamedStep(host).begin!(undefined);
      assert.deepEqual(host.wire, [], 'a pre-1.0 peer');
    });

    test('not on a connection for a domain of its own, after TLS, or with host-named streams off', () => {
      for (const host of [new FakeHost('initiator', false, false), new FakeHost('initiator', true), new FakeHost('initiator', false, true, null)]) {
        hostNamedStep(host).begin!(features(OFFER + STARTTLS));
        assert.deepEqual([host.wire, host.peerHost], [[], undefined]);
      }
    });
  });

  describe('the header after TLS', () => {
    const valid = (): CertificateVerdict => ({ status: 'valid' });
    const header = (attributes: Record<string, string>) => new Element('stream', NS_STREAMS, attributes);

    test('names both hosts, and the certificate proves the initiator host', () => {
      const accepted = hostNamedHeader(header({ from: 'xmpp.a.example', to: 'xmpp.b.example' }), 'xmpp.b.example', 'xmpp.a.example', valid);
      assert.ok('id' in accepted);
      assert.deepEqual([accepted.local, accepted.remote], ['xmpp.b.example', 'xmpp.a.example']);
    });

    test('another host, another initiator name or a certificate that does not prove it ends the stream', () => {
      const wrong = (attributes: Record<string, string>, certificate = valid) => {
        const result = hostNamedHeader(header(attributes), 'xmpp.b.example', 'xmpp.a.example', certificate);
        return 'condition' in result ? result.condition : 'accepted';
      };
      assert.equal(wrong({ from: 'xmpp.a.example', to: 'b.example' }), 'host-unknown');
      assert.equal(wrong({ from: 'xmpp.evil.example', to: 'xmpp.b.example' }), 'invalid-from');
      assert.equal(wrong({ to: 'xmpp.b.example' }), 'invalid-from');
      assert.equal(wrong({ from: 'xmpp.a.example', to: 'xmpp.b.example' }, () => ({ status: 'wrong-name', reason: 'the certificate does not name xmpp.a.example' })), 'not-authorized');
      assert.equal(wrong({ from: 'xmpp.a.example', to: 'xmpp.b.example' }, () => ({ status: 'untrusted' })), 'not-authorized');
    });
  });

  describe('peers that refused', () => {
    test('get standard streams for an hour, and are logged once, not once per attempt', () => {
      const lines: string[] = [];
      const logger = { info: (message: string) => lines.push(message) } as unknown as Logger;
      let now = 1_000_000;
      const refusals = new HostNamedRefusals(logger, () => now);
      assert.equal(refusals.allows('xmpp.b.example:5269'), true);
      refusals.refused('xmpp.b.example:5269', 'host-unknown');
      refusals.refused('xmpp.b.example:5269', 'host-unknown');
      assert.equal(refusals.allows('xmpp.b.example:5269'), false);
      assert.equal(refusals.allows('xmpp.c.example:5269'), true);
      now += REFUSAL_MEMORY_MS + 1;
      assert.equal(refusals.allows('xmpp.b.example:5269'), true);
      refusals.refused('xmpp.b.example:5269', 'host-unknown');
      assert.equal(lines.length, 1);
    });
  });
});
