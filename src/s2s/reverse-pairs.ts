/**
 * Pairs asked for by the side that did not open a bidi connection (XEP-0288 section 2.2: once
 * bidi is on, "the receiving server MAY initiate Server Dialback authentications for other
 * domains it hosts"), so that two hosts need one connection whichever of them has traffic first.
 *
 * Trellis's use of it (docs/protocols/reverse-pairs.md): the initiator says it takes such
 * requests with `<pairs xmlns='urn:xmpp:trellis:s2s:0'/>` inside its `<bidi/>`, which it sends
 * only to a peer that offered the pairs extension; peers that did not say so are never asked
 * (the XEP leaves keys verified on another connection, which is what we avoid). A request is
 * keyless (draft-ietf-xmpp-dna-01 section 6): the initiator grants it when the sender is proven
 * for the connection by what it saw of the receiver (its certificate, DANE, signed SRV, POSH:
 * pair-authorization.ts), answers with a dialback result or error (XEP-0220 sections 2.4, 2.5),
 * and binds the pair both ways; an error leaves the stream and its other pairs alone.
 */
import type { Pair } from './binding-table.ts';
import { dialbackAnswer, dialbackError, dialbackErrorText } from './dialback-elements.ts';
import type { PairVerdict } from './pair-authorization.ts';
import type { Admission } from '../policy/verdict.ts';
import { answersFor, type AuthMethod, type S2sContext } from './context.ts';
import type { Logger } from '../util/log.ts';
import { Element } from '../xml/element.ts';
import { NS_DIALBACK } from '../xml/namespaces.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { MAX_PENDING_REQUESTS } from './step-dialback-receiver.ts';
import type { PeerWarnings } from './peer-warnings.ts';

/** What the exchange uses of the connection it runs on. */
export interface ReverseHost extends PeerWarnings {
  readonly role: 'initiator' | 'receiver';
  readonly context: S2sContext;
  readonly logger: Logger;
  readonly remoteAddress: string;
  /** Writes once the stream is open; false when too much waits already. */
  send(element: Element): boolean;
  /** Initiator: whether `sender` is proven for this connection (pair-authorization.ts). */
  proveSender(sender: string): Promise<PairVerdict>;
  /** Initiator: policy's verdict on the peer's sender proven by `method`. */
  admitsSender(pair: Pair, method: AuthMethod): Admission;
  pairRefused(pair: Pair, method: string): void;
  /** Initiator: the peer proved `pair.remote`; the pair is bound inbound, and outbound (bidi). */
  reverseGranted(pair: Pair, method: AuthMethod): void;
  /** Receiver: the peer granted a pair we asked for; it may send. */
  reverseAuthorized(pair: Pair): void;
  /** Receiver: a pair we asked for was refused; `error` is what its stanzas bounce with unless another way is left. */
  refused(pair: Pair, error: StanzaError): void;
  /** Receiver: the peer revoked a pair it had granted (draft-ietf-xmpp-dna-01 section 6). */
  revoked(pair: Pair): void;
}

const pairKey = (pair: Pair): string => `${pair.local} ${pair.remote}`;

export class ReversePairs {
  readonly #host: ReverseHost;
  /** receiver: pairs asked for and not yet answered, with the timer that gives up on each */
  readonly #asked = new Map<string, NodeJS.Timeout>();
  /** initiator: requests being proven, as "sender target" */
  readonly #checking = new Set<string>();

  constructor(host: ReverseHost) {
    this.#host = host;
  }

  /** Whether a first-level element from the peer belongs to this exchange rather than to dialback. */
  claims(element: Element): boolean {
    if (element.xmlns !== NS_DIALBACK || element.name !== 'result') return false;
    // The initiator gets requests (no type); the receiver gets the answers to its own, and revocations.
    const type = element.attrs.type;
    if (this.#host.role === 'initiator') return type === undefined;
    return type === 'invalid' || (type !== undefined && this.#asked.has(pairKey({ local: element.attrs.to ?? '', remote: element.attrs.from ?? '' })));
  }

  handle(element: Element): void {
    if (this.#host.role === 'initiator') return this.#grant(element);
    this.#answered(element);
  }

  // --- the receiver asks -------------------------------------------------------------------------

  /** Asks the peer to authorize `pair` (we send from `pair.local`); refused when it gets no answer in time. */
  request(pair: Pair): void {
    const key = pairKey(pair);
    if (this.#asked.has(key)) return;
    const seconds = this.#host.context.config.negotiation_timeout;
    const timer = setTimeout(() => this.#refuse(pair, new StanzaError('remote-server-timeout', `no answer for ${pair.local} within ${seconds} s`)), seconds * 1000).unref();
    this.#asked.set(key, timer);
    if (!this.#host.send(new Element('result', NS_DIALBACK, { from: pair.local, to: pair.remote }))) {
      this.#refuse(pair, new StanzaError('resource-constraint', 'too many requests wait on this connection'));
    }
  }

  #answered(answer: Element): void {
    const pair = { local: answer.attrs.to ?? '', remote: answer.attrs.from ?? '' };
    if (!this.#settle(pair)) return this.#host.revoked(pair);
    if (answer.attrs.type === 'valid') return this.#host.reverseAuthorized(pair);
    this.#host.refused(pair, new StanzaError('remote-server-timeout', `${pair.remote} refused ${pair.local} on the connection it opened: ${dialbackErrorText(answer) ?? answer.attrs.type}`));
  }

  #refuse(pair: Pair, error: StanzaError): void {
    if (!this.#settle(pair)) return;
    this.#host.refused(pair, error);
  }

  #settle(pair: Pair): boolean {
    const key = pairKey(pair);
    clearTimeout(this.#asked.get(key));
    return this.#asked.delete(key);
  }

  // --- the initiator grants ----------------------------------------------------------------------

  #grant(request: Element): void {
    const host = this.#host;
    const sender = request.attrs.from;
    const target = request.attrs.to;
    const refuse = (error: Element): void => void host.send(error);
    if (!sender || !target) return refuse(dialbackError(request, 'bad-request', 'modify', 'a dialback result needs from and to'));
    if (!answersFor(host.context, target)) return refuse(dialbackError(request, 'item-not-found', 'cancel', `this server does not host ${target}`));
    const pair = { local: target, remote: sender };
    const verdict = host.context.policy.current.authenticate({ ...pair, address: host.remoteAddress });
    if (verdict.kind === 'reject') return refuse(dialbackError(request, verdict.condition, verdict.type ?? 'cancel', verdict.text));
    const checking = `${sender} ${target}`;
    if (this.#checking.has(checking)) return;
    if (this.#checking.size >= MAX_PENDING_REQUESTS) return refuse(dialbackError(request, 'resource-constraint', 'wait', 'too many requests are being checked on this connection'));
    this.#checking.add(checking);
    void host.proveSender(sender).then(
      (proof) => {
        this.#checking.delete(checking);
        const admission = proof.proven ? host.admitsSender(pair, proof.method) : undefined;
        if (proof.proven && admission?.kind === 'continue') {
          host.send(dialbackAnswer(request, 'valid'));
          return host.reverseGranted(pair, proof.method);
        }
        const reason = proof.proven ? `${proof.reason}, but ${admission!.text}` : proof.reason;
        host.warnOfPeer('s2s outgoing bidi: pair asked for by the peer refused', { from: sender, to: target, reason });
        host.pairRefused(pair, proof.proven ? proof.method : 'keyless');
        refuse(dialbackError(request, 'not-authorized', 'auth', `${sender} is not proven on this connection: ${reason}`));
      },
      (error: unknown) => {
        this.#checking.delete(checking);
        host.logger.error('s2s outgoing bidi: pair check failed', { from: sender, error: error instanceof Error ? error.stack : String(error) });
        refuse(dialbackError(request, 'internal-server-error', 'wait', 'the request could not be checked'));
      },
    );
  }

  /** The stream is gone: requests waiting are forgotten (their stanzas go back with the connection). */
  closed(): void {
    for (const timer of this.#asked.values()) clearTimeout(timer);
    this.#asked.clear();
  }
}
