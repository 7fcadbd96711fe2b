/**
 * What one connection enters in the two tables as pairs are authorized on it: the proof each
 * pair reached and whether policy admits it (src/policy), the names the peer proved (the
 * connection table), the pair bound in one direction or, with bidi (XEP-0288 section 2.2), both;
 * and the peer's read rate, one share of `s2s.rate` per pair it may send for.
 */
import type { XmlStream } from '../net/xml-stream.ts';
import { stanzaErrorOf, type Admission } from '../policy/verdict.ts';
import type { Logger } from '../util/log.ts';
import type { StanzaError } from '../xml/stanza-error.ts';
import type { BindingTable, Pair } from './binding-table.ts';
import type { ConnectionTable, Direction } from './connection-table.ts';
import type { AuthMethod, S2sContext } from './context.ts';
import type { PairCounters } from './pair-counters.ts';
import { proofOf, type PairProof } from './pair-proof.ts';
import { linkAdmits } from './link-profile.ts';
import type { CertificateVerdict } from './peer-certificate.ts';
import type { PeerWarnings } from './peer-warnings.ts';

/** The tables the bindings go in. */
export interface BindingTables {
  readonly connectionTable: ConnectionTable;
  readonly bindingTable: BindingTable<PairProof>;
  readonly pairCounters: PairCounters;
}

/** What the bindings use of their connection. */
export interface BindingsHost extends PeerWarnings {
  readonly id: string;
  readonly direction: Direction;
  /** "s2s outgoing" or "s2s incoming", for log lines */
  readonly label: string;
  readonly secure: boolean;
  readonly remoteAddress: string;
  readonly context: S2sContext;
  readonly logger: Logger;
  readonly stream: XmlStream;
  readonly bidi: boolean;
  /** the connection is gone: nothing more is bound */
  readonly ended: boolean;
  certificate(domain: string): CertificateVerdict;
  /** a pair was bound: the peer is no longer waiting to authenticate */
  bound(): void;
  /** an outbound pair may send now */
  outboundReady(pair: Pair): void;
  /** a pair we asked for is refused after all; its stanzas bounce with `error` unless another way is left */
  refused(pair: Pair, error: StanzaError): void;
  pairRefused(pair: Pair, method: string): void;
}

export class PairBindings {
  readonly #host: BindingsHost;
  readonly #tables: BindingTables;

  constructor(host: BindingsHost, tables: BindingTables) {
    this.#host = host;
    this.#tables = tables;
  }

  /** Policy's verdict on `method` for the pair here, at the level it reaches in `direction` (the connection's by default). */
  admits(pair: Pair, method: AuthMethod, direction = this.#host.direction): Admission {
    return this.admitsProof(pair, this.#proofFor(pair, method, direction));
  }

  /** What `method` proves for the pair on this connection (pair-proof.ts). */
  #proofFor(pair: Pair, method: AuthMethod, direction: Direction): PairProof {
    const certified = direction === 'out' && this.#host.certificate(pair.remote).status === 'valid';
    return proofOf(direction, method, this.#host.secure, certified);
  }

  /** Policy's verdict on the pair proven by `proof` here, on this connection's TLS (src/policy/snapshot.ts). */
  admitsProof(pair: Pair, proof: PairProof): Admission {
    // A link of protocol s2s may ask for one method and a pinned certificate (link-profile.ts).
    const byLink = linkAdmits(this.#host.context, pair.remote, proof.method, () => this.#host.certificate(pair.remote));
    if (byLink) return byLink;
    return this.#host.context.policy.current.authenticate({ ...pair, address: this.#host.remoteAddress, reached: proof.level, method: proof.method, tls: this.#host.secure });
  }

  /** Whether policy admits the pair proven by `proof`; a refusal is logged with its rule. */
  #admitted(pair: Pair, proof: PairProof, refusal: string): boolean {
    const admission = this.admitsProof(pair, proof);
    if (admission.kind === 'continue') return true;
    this.#host.warnOfPeer(refusal, { from: pair.remote, level: proof.level, reason: admission.text, rule: admission.rule });
    return false;
  }

  /** A pair we asked for was granted; `given` is a proof policy already admitted (a host-named stream's). */
  outbound(pair: Pair, method: AuthMethod, given?: PairProof): void {
    const host = this.#host;
    if (host.ended) return;
    const admission = given ? undefined : this.admits(pair, method);
    if (admission?.kind === 'reject') return host.refused(pair, stanzaErrorOf(admission));
    const proof = this.#record(pair, 'out', method, host.certificate(pair.remote).status === 'valid', given);
    host.logger.info('s2s outgoing pair authorized', { local: pair.local, remote: pair.remote, ...proof });
    host.outboundReady(pair);
    // XEP-0288 section 2.2: the peer may send the reverse of each pair we proved, if what it proved to us is enough.
    if (host.bidi && this.#admitted(pair, proof, 's2s outgoing bidi: policy refuses to receive from the peer')) this.reverse(pair, 'in', proof);
  }

  /** The peer proved the pair's sender; its proof when policy admits it (the caller binds the reverse with bidi), else undefined. */
  inbound(pair: Pair, method: AuthMethod): PairProof | undefined {
    const proof = this.#proofFor(pair, method, 'in');
    if (!this.#admitted(pair, proof, 's2s incoming pair refused by policy')) {
      this.#host.pairRefused(pair, method);
      return undefined;
    }
    this.#record(pair, 'in', method, method === 'sasl-external' || method === 'certificate');
    this.#host.logger.info('s2s incoming sender authorized', { from: pair.remote, to: pair.local, ...proof });
    return proof;
  }

  /** XEP-0288: a pair authorized one way on a bidi connection is bound the other way too, with the same proof. */
  reverse(pair: Pair, direction: Direction, proof: PairProof): void {
    this.bind(pair, direction, proof);
    this.#host.logger.info(`${this.#host.label} pair bound ${direction === 'out' ? 'outbound' : 'inbound'} (bidi)`, { local: pair.local, remote: pair.remote });
    if (direction === 'out') this.#host.outboundReady(pair);
  }

  /** Initiator of a bidi connection: the peer proved the sender of a pair it asked for (reverse-pairs.ts); bound both ways. */
  granted(pair: Pair, method: AuthMethod): void {
    if (this.#host.ended) return;
    const proof = this.#record(pair, 'in', method, method === 'certificate');
    this.#host.logger.info('s2s outgoing bidi: pair asked for by the peer authorized', { from: pair.remote, to: pair.local, ...proof });
    this.reverse(pair, 'out', proof);
  }

  /** Receiver of a bidi connection: the peer granted a pair we asked for (reverse-pairs.ts; its certificate names the remote domain). */
  grantedByPeer(pair: Pair): void {
    const host = this.#host;
    if (host.ended) return;
    const certified = host.certificate(pair.remote).status === 'valid';
    const admission = this.admitsProof(pair, proofOf('out', 'certificate', host.secure, certified));
    if (admission.kind === 'reject') return host.refused(pair, stanzaErrorOf(admission));
    const proof = this.#record(pair, 'out', 'certificate', certified);
    host.logger.info('s2s incoming bidi: pair authorized by the peer', { local: pair.local, remote: pair.remote, ...proof });
    host.outboundReady(pair);
    const inbound = proofOf('in', 'certificate', host.secure, certified);
    if (this.#admitted(pair, inbound, 's2s incoming bidi: policy refuses to receive from the peer')) this.reverse(pair, 'in', inbound);
  }

  bind(pair: Pair, direction: Direction, proof: PairProof): void {
    this.#tables.bindingTable.bind(pair, direction, this.#host.id, proof);
    if (direction === 'in') this.#inboundChanged();
  }

  /** The pair may no longer be sent to us here (revoked); false when it was not bound. */
  unbindInbound(pair: Pair): boolean {
    if (!this.#tables.bindingTable.isBound(pair, 'in', this.#host.id)) return false;
    this.#tables.bindingTable.unbind(pair, 'in', this.#host.id);
    this.#inboundChanged();
    return true;
  }

  /** Each pair the peer may send for brings its share of `s2s.rate`, as a connection of its own would, up to `s2s.rate_pairs_max`. */
  #inboundChanged(): void {
    const pairs = this.#tables.bindingTable.pairsOf(this.#host.id, 'in').length;
    this.#host.stream.setReadShares(Math.max(1, Math.min(pairs, this.#host.context.config.rate_pairs_max)));
  }

  /** Enters what the peer proved in the connection table and the pair in the binding table. */
  #record(pair: Pair, direction: Direction, method: AuthMethod, certified: boolean, given?: PairProof): PairProof {
    const host = this.#host;
    host.bound();
    if (certified) this.#tables.connectionTable.certified(host.id, pair.remote);
    else this.#tables.connectionTable.proved(host.id, pair.remote);
    const proof = given ?? proofOf(direction, method, host.secure, certified);
    this.bind(pair, direction, proof);
    this.#tables.pairCounters.count(direction, 'authorized', method);
    return proof;
  }
}
