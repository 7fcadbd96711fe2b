/**
 * A stand-in for a server connection, for testing negotiation steps one at a time: it records
 * what a step writes (at once, or once the stream is open), the pairs it authorizes or refuses,
 * and the failures it reports.
 */
import type { FederationLevel } from '../../src/config/types.ts';
import { silentLogger } from '../../src/util/log.ts';
import { serialize } from '../../src/xml/serialize.ts';
import { NS_SERVER, type Element } from '../../src/xml/element.ts';
import type { StanzaError } from '../../src/xml/stanza-error.ts';
import type { Pair } from '../../src/s2s/binding-table.ts';
import type { AuthMethod, S2sContext } from '../../src/s2s/context.ts';
import type { Negotiation, Role, StepHost } from '../../src/s2s/negotiation.ts';
import type { CertificateStatus, CertificateVerdict } from '../../src/s2s/peer-certificate.ts';
import type { PairVerdict } from '../../src/s2s/pair-authorization.ts';
import { proofOf } from '../../src/s2s/pair-proof.ts';
import { LivePolicy, PolicySnapshot } from '../../src/policy/snapshot.ts';
import type { Admission } from '../../src/policy/verdict.ts';
import type { ReverseHost } from '../../src/s2s/reverse-pairs.ts';

export interface FakeHostOptions {
  role: Role;
  local?: string;
  remote?: string;
  secure?: boolean;
  /** the level every remote domain must reach */
  level?: FederationLevel;
  /** s2s.access.deny_domains */
  denyDomains?: string[];
  /** domains we host */
  hosts?: string[];
  /** what the peer's certificate proves, by domain (absent: 'absent') */
  certificates?: Record<string, CertificateStatus>;
  secret?: string;
  streamId?: string;
  /** s2s.bidi (default true) */
  bidi?: boolean;
  /** the stream is host-named */
  hostNamed?: boolean;
  /** domains this server fronts for plain peers (s2s.peering front, each via a next hop) */
  fronted?: string[];
}

export class FakeStepHost implements StepHost, ReverseHost {
  readonly role: Role;
  readonly context: S2sContext;
  readonly logger = silentLogger();
  /** what warnOfPeer was told, message by message */
  readonly peerWarnings: string[] = [];
  warnOfPeer(message: string): void {
    this.peerWarnings.push(message);
  }
  readonly remoteAddress = '192.0.2.1';
  secure: boolean;
  localDomain: string | undefined;
  remoteDomain: string | undefined;
  streamId: string;
  authenticated = false;
  bidi = false;
  /** bidi was turned on with reverse pair requests (reverse-pairs.ts) */
  reversePairs = false;
  keepsRelayTrace = false;
  /** pairs the peer asked for on the connection we opened and we granted (reverse-pairs.ts) */
  readonly grantedPairs: (Pair & { method: AuthMethod })[] = [];
  hostNamed: boolean;
  /** pairs host activation took (`activate` answers true for these) */
  readonly activating: Pair[] = [];
  /** whether `activate` takes a pair */
  activation = false;
  /** everything written, in order, serialized; `sent` for what went through the open stream */
  readonly wire: string[] = [];
  readonly authorizedPairs: (Pair & { method: AuthMethod })[] = [];
  readonly refusedPairs: (Pair & { error: StanzaError })[] = [];
  readonly failures: { error: StanzaError; condition?: string }[] = [];
  readonly revokedPairs: Pair[] = [];
  /** pairs refused, with the method that did not prove them (pairRefused) */
  readonly refusals: (Pair & { method: string })[] = [];
  /** the peer asked for a pair without a key */
  perPair = false;
  /** what proveSender answers */
  proof: PairVerdict = { proven: false, reason: 'not proven' };
  restarts = 0;
  /** when set, `send` goes through it as a real connection's does */
  negotiation: Negotiation | undefined;
  readonly #certificates: Record<string, CertificateStatus>;

  constructor(options: FakeHostOptions) {
    this.role = options.role;
    this.localDomain = options.local;
    this.remoteDomain = options.remote;
    this.secure = options.secure ?? false;
    this.hostNamed = options.hostNamed ?? false;
    this.streamId = options.streamId ?? 'stream-1';
    this.#certificates = options.certificates ?? {};
    const level = options.level ?? 'encrypted';
    this.context = {
      config: { min_level: level, negotiation_timeout: 30, bidi: options.bidi ?? true },
      secret: options.secret ?? 'secret',
      policy: testPolicy(level, options.denyDomains, options.fronted),
      router: { hosts: new Map((options.hosts ?? [options.role === 'receiver' ? options.local : options.remote]).map((domain) => [domain, {}])) },
    } as unknown as S2sContext;
  }

  pairRefused(pair: Pair, method: string): void {
    this.refusals.push({ ...pair, method });
  }

  write(element: Element): void {
    this.wire.push(serialize(element, NS_SERVER));
  }

  send(element: Element): boolean {
    if (this.negotiation) return this.negotiation.whenOpen(() => this.write(element));
    this.write(element);
    return true;
  }

  certificate(domain: string): CertificateVerdict {
    return { status: this.#certificates[domain] ?? 'absent' };
  }

  async startTls(): Promise<boolean> {
    this.secure = true;
    this.wire.push('(TLS)');
    return true;
  }

  restart(): void {
    this.restarts++;
    this.wire.push('(restart)');
  }

  /** As a real connection: the level `method` reaches here, judged by a real policy snapshot. */
  admits(pair: Pair, method: AuthMethod): Admission {
    const direction = this.role === 'initiator' ? 'out' : 'in';
    const proof = proofOf(direction, method, this.secure, direction === 'out' && this.certificate(pair.remote).status === 'valid');
    return this.context.policy.current.authenticate({ ...pair, address: this.remoteAddress, reached: proof.level });
  }

  authorized(pair: Pair, method: AuthMethod): void {
    this.authenticated = true;
    this.authorizedPairs.push({ ...pair, method });
  }

  activate(pair: Pair): boolean {
    if (this.activation) this.activating.push(pair);
    return this.activation;
  }

  enableBidi(reversePairs: boolean, peerKeepsRelayTrace = false): void {
    this.bidi = true;
    this.reversePairs = reversePairs;
    this.keepsRelayTrace = peerKeepsRelayTrace;
  }

  admitsSender(pair: Pair, method: AuthMethod): Admission {
    const proof = proofOf('in', method, this.secure, false);
    return this.context.policy.current.authenticate({ ...pair, address: this.remoteAddress, reached: proof.level });
  }

  reverseGranted(pair: Pair, method: AuthMethod): void {
    this.grantedPairs.push({ ...pair, method });
  }

  reverseAuthorized(pair: Pair): void {
    this.authorized(pair, 'certificate');
  }

  refused(pair: Pair, error: StanzaError): void {
    this.refusedPairs.push({ ...pair, error });
  }

  revoked(pair: Pair): void {
    this.revokedPairs.push(pair);
  }

  usePairs(): void {
    this.perPair = true;
  }

  async proveSender(): Promise<PairVerdict> {
    return this.proof;
  }

  fail(error: StanzaError, condition?: string): void {
    this.failures.push({ error, condition });
  }
}

/** A real policy for step tests: `level` for every domain, the domains it refuses, and those it fronts. */
export function testPolicy(level: FederationLevel, denyDomains: string[] = [], fronted: string[] = []): LivePolicy {
  const peering = fronted.map((domain) => ({ domain, subdomains: false, via: { kind: 'address' as const, host: '192.0.2.9', port: 5269 }, front: true }));
  return new LivePolicy(
    new PolicySnapshot({
      s2s: { min_level: level, peers: [], peering, access: { deny_domains: denyDomains, allow_domains: [], deny_addresses: [], allow_addresses: [] } },
      foreign_access: { default: 'allow', deny: [], allow: [] },
      hosts: [],
    }),
  );
}
