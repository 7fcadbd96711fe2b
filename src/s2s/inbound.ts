/**
 * Stanzas a peer sends on a server connection: each is checked against the binding table
 * (its pair must be bound inbound to this connection) and handed to the router in the order it
 * arrived (RFC 6120 section 10.1), with the binding as its origin. The queue is bounded:
 * reading stops while too many wait, so a peer that sends faster than they are processed is
 * held back by TCP.
 */
import { parseJid, type Jid } from '../jid/jid.ts';
import { StreamError } from '../net/stream-errors.ts';
import type { XmlStream } from '../net/xml-stream.ts';
import type { ServerBinding } from '../router/router.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { errorReply, StanzaError } from '../xml/stanza-error.ts';
import type { Pair } from './binding-table.ts';
import { NS_TRELLIS_S2S } from './pair-authorization.ts';
import type { BindingTable } from './binding-table.ts';
import type { Admission } from '../policy/verdict.ts';
import { answersFor, type S2sContext } from './context.ts';
import type { PeerWarnings } from './peer-warnings.ts';

/** Stanzas waiting for processing before the socket stops being read (flow control). */
export const MAX_PENDING_STANZAS = 256;

/** The connection the stanzas arrive on. */
export interface InboundHost extends PeerWarnings {
  readonly id: string;
  readonly stream: XmlStream;
  readonly context: S2sContext;
  readonly logger: Logger;
  /** how log lines name the connection ("s2s incoming") */
  readonly label: string;
  /** whether the peer proved `domain` on this connection (the connection table) */
  proves(domain: string): boolean;
  /** ends the stream with the stream error a stanza earned */
  refuse(error: StreamError): void;
  /** the peer uses per-pair authorization on this connection (a keyless request) */
  readonly perPair: boolean;
  /** sends a stanza back over the pair's outbound binding; false when there is none */
  sendBack(pair: Pair, stanza: Element): boolean;
}

export class InboundStanzas {
  readonly #host: InboundHost;
  readonly #bindings: BindingTable<unknown>;
  #queue: Promise<void> = IDLE;
  /** stanzas read and not yet processed, and answers waiting for them (`after`) */
  #pending = 0;
  /** stanzas processed since the peer enabled stream management (XEP-0198 section 4), undefined before */
  #handled: number | undefined;

  constructor(host: InboundHost, bindings: BindingTable<unknown>) {
    this.#host = host;
    this.#bindings = bindings;
  }

  get handled(): number | undefined {
    return this.#handled;
  }

  /** Runs `action` after every stanza received before it was processed (XEP-0198 answers). */
  after(action: () => void): void {
    if (this.#pending === 0) {
      if (!this.#host.stream.closing) action();
      return;
    }
    this.#wait(this.#queue.then(() => {
      if (!this.#host.stream.closing) action();
    }), false);
  }

  /** XEP-0198 section 3: the peer asks us to count what we process from now on; false when it may not. */
  enableCounting(): boolean {
    if (this.#handled !== undefined || this.#bindings.pairsOf(this.#host.id, 'in').length === 0) return false;
    this.#handled = 0;
    return true;
  }

  /**
   * Takes a stanza in arrival order. With nothing before it still in progress it is processed at
   * once, and the ones after it wait only if its processing has to (src/router/router.ts `routeNow`).
   */
  enqueue(stanza: Element): void {
    const { from, to } = addresses(stanza);
    if (this.#pending > 0) return this.#wait(this.#queue.then(() => this.#deliver(stanza, from, to)), true);
    let delivering: Promise<void> | undefined;
    try {
      delivering = this.#deliver(stanza, from, to);
    } catch (error) {
      this.#failed(error);
    }
    if (delivering !== undefined) return this.#wait(delivering, true);
    if (this.#handled !== undefined) this.#handled++;
  }

  /** What comes next waits for `processing`; `stanza`: it processes a stanza, which counts as handled once done. */
  #wait(processing: Promise<void>, stanza: boolean): void {
    const stream = this.#host.stream;
    this.#pending++;
    if (this.#pending === MAX_PENDING_STANZAS) stream.holdReading('backlog');
    this.#queue = processing
      .catch((error: unknown) => this.#failed(error))
      .finally(() => {
        if (stanza && this.#handled !== undefined) this.#handled++;
        if (this.#pending-- === MAX_PENDING_STANZAS) stream.releaseReading('backlog');
        // Nothing left to process: an idle connection keeps no promise of its own.
        if (this.#pending === 0) this.#queue = IDLE;
      });
  }

  #failed(error: unknown): void {
    if (error instanceof StreamError) return this.#host.refuse(error);
    this.#host.logger.error(`${this.#host.label} stanza failed`, { error: error instanceof Error ? error.stack : String(error) });
  }

  /** Hands a stanza to the router: undefined once routed, or a promise while its route waits. */
  #deliver(stanza: Element, from: Jid, to: Jid): Promise<void> | undefined {
    const host = this.#host;
    if (host.stream.closing) return undefined;
    const binding: ServerBinding = { local: to.domain, remote: from.domain, connection: host.id };
    if (!this.#bindings.accepts(binding, host.id) && !this.#trunked(binding)) {
      const refusal = this.#refusal(binding);
      if (refusal) throw refusal;
      this.#invalidConnection(stanza, binding);
      return undefined;
    }
    return host.context.router.routeNow(stanza, { kind: 'server', binding });
  }

  /**
   * Trunks and relaying (docs/peering.md): a stanza whose pair is not bound here is accepted when
   * a pair (local, peer) is bound inbound on this connection, its `from` is the peer's domain or
   * one the peer's rule lets it speak for, and its `to` is that local domain or a domain this
   * server relays to (not hosted, routed onward by policy, or rejected by a route rule).
   */
  #trunked({ local, remote }: ServerBinding): boolean {
    const context = this.#host.context;
    const policy = context.policy.current;
    const relayed = !context.router.hosts.has(local);
    for (const pair of this.#bindings.pairsOf(this.#host.id, 'in')) {
      // A relay a rule rejects is accepted, to bounce with the rule's error (src/router).
      if (relayed ? unrouted(policy.relay(remote, local)) : pair.local !== local) continue;
      if (pair.remote === remote || policy.speaksFor(pair.remote, remote).kind === 'continue') return true;
    }
    return false;
  }

  /**
   * RFC 6120 sections 4.9.3.9 and 4.9.3.6: why a stanza's pair is not accepted on this
   * connection; undefined where the peer uses per-pair authorization and the pair is merely not
   * bound here (the stream goes on).
   */
  #refusal({ local, remote }: ServerBinding): StreamError | undefined {
    const inbound = this.#bindings.pairsOf(this.#host.id, 'in');
    if (inbound.length === 0 && !this.#host.perPair) return new StreamError('not-authorized', 'authenticate before sending stanzas');
    if (!this.#host.proves(remote)) return new StreamError('invalid-from', this.#notSpokenFor(inbound.map((pair) => pair.remote), remote));
    if (!answersFor(this.#host.context, local)) return new StreamError('host-unknown', `this server does not host ${local}`);
    if (this.#host.perPair) return undefined;
    // RFC 6120 section 8.1.1.2 and XEP-0220 section 2.6.2: a target is validated per pair.
    return new StreamError('host-unknown', `${remote} is not authorized for ${local} on this stream`);
  }

  /** Why no peer on this connection may send from `remote`: the first trunk rule's answer, or that none speaks for others. */
  #notSpokenFor(peers: readonly string[], remote: string): string {
    const policy = this.#host.context.policy.current;
    const reasons = [...new Set(peers)].map((peer) => policy.speaksFor(peer, remote));
    const answer = reasons.find((verdict) => verdict.rule !== 's2s.peering') ?? reasons[0];
    return answer?.kind === 'reject' ? `${remote} is not authenticated on this stream: ${answer.text} [${answer.rule}]` : `${remote} is not authenticated on this stream`;
  }

  /**
   * Draft-ietf-xmpp-dna-01 sections 4 and 6 with the digest's section 5.8: a stanza for a pair
   * not bound to this connection is not delivered; its sender gets not-authorized with
   * <invalid-connection/> in Trellis's namespace, sent over the pair's binding the other way,
   * or, without one, the stanza is only logged (an error must not go over an unauthorized pair).
   */
  #invalidConnection(stanza: Element, { local, remote }: ServerBinding): void {
    const host = this.#host;
    const reply = errorReply(stanza, new StanzaError('not-authorized', `${remote} is not authorized for ${local} on this connection`, 'cancel'));
    reply?.getChild('error')?.c('invalid-connection', {}, NS_TRELLIS_S2S);
    const answered = reply !== undefined && host.sendBack({ local, remote }, reply);
    host.warnOfPeer(`${host.label} stanza for a pair not bound to this connection`, { from: remote, to: local, stanza: stanza.name, answered });
  }
}

const IDLE: Promise<void> = Promise.resolve();

/** A relay no rule routes: RFC 6120 section 10.4 stands. */
function unrouted(verdict: Admission): boolean {
  return verdict.kind === 'reject' && verdict.condition === 'remote-server-not-found';
}

/** RFC 6120 section 8.1.1.2: both addresses present and well-formed, else improper-addressing. */
function addresses(stanza: Element): { from: Jid; to: Jid } {
  try {
    if (stanza.attrs.from === undefined || stanza.attrs.to === undefined) throw new Error('missing');
    return { from: parseJid(stanza.attrs.from), to: parseJid(stanza.attrs.to) };
  } catch {
    throw new StreamError('improper-addressing', 'a stanza between servers needs valid from and to addresses');
  }
}
