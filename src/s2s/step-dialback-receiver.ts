/**
 * Dialback on a connection the peer opened (XEP-0220 section 2.2): we are the receiving server
 * for its requests to authorize a pair (`<db:result/>`), which we check with its certificate
 * (XEP-0344) or by calling its authoritative server back, and the authoritative server for its
 * questions about keys we made (`<db:verify/>`).
 */
import { StreamError } from '../net/stream-errors.ts';
import type { Element } from '../xml/element.ts';
import { NS_DIALBACK, NS_DIALBACK_FEATURE } from '../xml/namespaces.ts';
import { StanzaError, type StanzaErrorCondition, type StanzaErrorType } from '../xml/stanza-error.ts';
import { dialbackAnswer, dialbackError } from './dialback-elements.ts';
import { dialbackKeyMatches } from './dialback-key.ts';
import type { VerifyOutcome } from './step-dialback-initiator.ts';
import { NS_TRELLIS_S2S } from './pair-authorization.ts';
import type { Step, StepHost, StepResult } from './negotiation.ts';
import { answersFor, type AuthMethod } from './context.ts';

/** Requests being checked with authoritative servers at once, per connection. */
export const MAX_PENDING_REQUESTS = 64;

/** Checks a key with the authoritative server of `sender` (section 2.1.2). */
export type Authoritative = (sender: string, receiving: string, key: string) => Promise<VerifyOutcome>;

export class DialbackReceiver implements Step {
  readonly name = 'dialback';
  readonly #host: StepHost;
  readonly #authoritative: Authoritative;
  /** pairs being checked, as "sender target" */
  readonly #checking = new Set<string>();

  constructor(host: StepHost, authoritative: Authoritative) {
    this.#host = host;
    this.#authoritative = authoritative;
  }

  claims(element: Element): boolean {
    return element.xmlns === NS_DIALBACK;
  }

  /** Section 2.4.2: dialback with errors, unless the peer must show a trusted certificate it lacks, or SASL already authenticated it. */
  offer(features: Element): boolean {
    const sender = this.#host.remoteDomain;
    const { demands } = this.#host.context.policy.current.requirement(sender);
    const certified = sender !== undefined && this.#host.certificate(sender).status === 'valid';
    // A host-named stream authorizes pairs by proofs only (keyless requests, activation): no keyed dialback there.
    if (!this.#host.authenticated && !this.#host.hostNamed && (!demands.trustedCertificate || certified)) features.c('dialback', {}, NS_DIALBACK_FEATURE).c('errors');
    // Trellis's pairs extension (docs/federation.md): keyless requests are understood here. They
    // rest on the peer's certificate, so only over TLS.
    if (this.#host.secure) features.c('pairs', {}, NS_TRELLIS_S2S);
    return false;
  }

  handle(element: Element): StepResult {
    // Section 3.1: a result or verify carrying a type on a stream the peer opened is unsolicited.
    if (element.attrs.type !== undefined) {
      this.#host.warnOfPeer('s2s incoming ignored a dialback answer with a type', { element: element.name, from: element.attrs.from, to: element.attrs.to });
    } else if (element.name === 'result') {
      this.#result(element);
    } else if (element.name === 'verify') {
      this.#verify(element);
    }
    return 'done';
  }

  /** A request to authorize the pair (to, from) (section 2.2.1). */
  #result(request: Element): void {
    const host = this.#host;
    const sender = request.attrs.from;
    const target = request.attrs.to;
    if (!sender || !target) throw new StreamError('improper-addressing', 'a dialback result needs from and to');
    const refuse = (condition: StanzaErrorCondition, type: StanzaErrorType, text: string): void => void host.send(dialbackError(request, condition, type, text));
    if (!answersFor(host.context, target)) return refuse('item-not-found', 'cancel', `this server does not host ${target}`);
    const pair = { local: target, remote: sender };
    const verdict = host.context.policy.current.authenticate({ ...pair, address: host.remoteAddress });
    if (verdict.kind === 'reject') {
      host.warnOfPeer('s2s incoming dialback refused by policy', { from: sender, reason: verdict.text, rule: verdict.rule });
      return refuse(verdict.condition, verdict.type ?? 'cancel', verdict.text);
    }
    if (request.text().trim() === '') return this.#keyless(request, pair);
    if (host.hostNamed) return refuse('not-allowed', 'cancel', 'a host-named stream authorizes pairs by proofs, not dialback keys: use a standard stream');
    const required = host.context.policy.current.requirement(sender);
    const demands = required.demands;
    if (demands.tls && !host.secure) return refuse('policy-violation', 'cancel', `TLS is required before dialback (${required.rule}: ${required.level})`);
    const certificate = host.certificate(sender);
    if (demands.trustedCertificate && certificate.status !== 'valid') {
      host.warnOfPeer('s2s incoming refused dialback: a trusted certificate is required', { from: sender, certificate: certificate.status, reason: certificate.reason });
      host.pairRefused(pair, 'dialback');
      return refuse('not-authorized', 'auth', `${sender} must present a CA-signed certificate naming it`);
    }
    if (certificate.status === 'valid') {
      // XEP-0344 section 2.4: the certificate already proves the sender; no callback needed.
      return this.#grant(request, pair, 'certificate');
    }
    this.#check(request, () => this.#authoritative(sender, target, request.text()), (outcome) => this.#answer(request, outcome));
  }

  /** Runs a check of a request, one per pair at a time and a bounded number at once. */
  #check<T>(request: Element, check: () => Promise<T>, answer: (outcome: T) => void): void {
    const checking = `${request.attrs.from} ${request.attrs.to}`;
    if (this.#checking.has(checking)) return;
    if (this.#checking.size >= MAX_PENDING_REQUESTS) return void this.#host.send(dialbackError(request, 'resource-constraint', 'wait', 'too many dialback requests are being checked on this connection'));
    this.#checking.add(checking);
    void check().then(
      (outcome) => {
        this.#checking.delete(checking);
        answer(outcome);
      },
      (error: unknown) => {
        this.#checking.delete(checking);
        this.#host.logger.error('s2s incoming pair check failed', { from: request.attrs.from, error: error instanceof Error ? error.stack : String(error) });
        this.#host.send(dialbackError(request, 'internal-server-error', 'wait', 'the request could not be checked'));
      },
    );
  }

  /**
   * A keyless request (draft-ietf-xmpp-dna-01 section 6): granted when the sender is proven for
   * this connection (pair-authorization.ts) at the level policy requires of it; refused with a
   * not-authorized dialback error, which leaves the stream and its other pairs alone (the
   * requester understands dialback errors: it used the pairs extension we advertised).
   */
  #keyless(request: Element, pair: { local: string; remote: string }): void {
    const host = this.#host;
    host.usePairs();
    this.#check(request, () => host.proveSender(pair.remote), (verdict) => {
      const admission = verdict.proven ? host.admits(pair, verdict.method) : undefined;
      if (verdict.proven && admission?.kind === 'continue') {
        host.send(dialbackAnswer(request, 'valid'));
        return host.authorized(pair, verdict.method);
      }
      const reason = verdict.proven ? `${verdict.reason}, but ${admission!.text}` : verdict.reason;
      host.warnOfPeer('s2s incoming pair refused', { from: pair.remote, to: pair.local, reason });
      // Counted under the method that proved the sender too weakly, else as a keyless request nothing proved.
      host.pairRefused(pair, verdict.proven ? verdict.method : 'keyless');
      host.send(dialbackError(request, 'not-authorized', 'auth', `${pair.remote} is not proven on this connection: ${reason}`));
    });
  }

  /**
   * Answers valid once policy admits the pair at the level its proof reached; otherwise a
   * dialback error naming the rule (section 2.4), and the stream lives for other pairs.
   */
  #grant(request: Element, pair: { local: string; remote: string }, method: AuthMethod): void {
    const host = this.#host;
    const admission = host.admits(pair, method);
    if (admission.kind === 'reject') {
      host.warnOfPeer('s2s incoming pair refused by policy', { from: pair.remote, to: pair.local, reason: admission.text, rule: admission.rule });
      return void host.send(dialbackError(request, admission.condition, admission.type ?? 'cancel', admission.text));
    }
    host.send(dialbackAnswer(request, 'valid'));
    host.authorized(pair, method);
  }

  #answer(request: Element, outcome: VerifyOutcome): void {
    const host = this.#host;
    const pair = { local: request.attrs.to!, remote: request.attrs.from! };
    if (outcome === 'valid') return this.#grant(request, pair, 'dialback');
    if (outcome === 'busy') return void host.send(dialbackError(request, 'resource-constraint', 'wait', `too many verifications wait for ${pair.remote}`));
    if (outcome === 'error') return void host.send(dialbackError(request, 'remote-server-not-found', 'cancel', `could not reach the authoritative server of ${pair.remote}`));
    host.warnOfPeer('s2s incoming dialback key invalid', { from: pair.remote, to: pair.local });
    host.pairRefused(pair, 'dialback');
    // Section 2.2.1: the first pair invalid ends the stream; with others valid, a forbidden error.
    if (host.authenticated) return void host.send(dialbackError(request, 'forbidden', 'auth', 'the dialback key is not valid'));
    host.send(dialbackAnswer(request, 'invalid'));
    host.fail(new StanzaError('not-authorized', `invalid dialback key for ${pair.remote}`));
  }

  /** We are the authoritative server: is this key one we made? (section 2.2.2) */
  #verify(request: Element): void {
    const host = this.#host;
    const receiving = request.attrs.from;
    const originating = request.attrs.to;
    const id = request.attrs.id;
    if (!receiving || !originating || id === undefined) throw new StreamError('improper-addressing', 'a dialback verify needs from, to and id');
    if (!answersFor(host.context, originating)) return void host.send(dialbackError(request, 'item-not-found', 'cancel', `this server does not host ${originating}`));
    const valid = dialbackKeyMatches(request.text(), host.context.secret, receiving, originating, id);
    host.logger.info('s2s answered a dialback verification', { for: receiving, domain: originating, valid });
    host.send(dialbackAnswer(request, valid ? 'valid' : 'invalid'));
  }
}
