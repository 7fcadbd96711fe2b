/**
 * Dialback on a connection we opened (XEP-0220 section 2.1): we assert our domains with keys
 * (`<db:result/>`, one request per pair, piggybacked on one stream as section 2.6 allows) and,
 * as a receiving server, ask the peer as authoritative server whether keys it made are valid
 * (`<db:verify/>`). Requests go out only when the stream is open (see negotiation.ts), and
 * only answers to requests made on this stream count (section 3.1).
 */
import { Element } from '../xml/element.ts';
import { NS_DIALBACK, NS_DIALBACK_FEATURE } from '../xml/namespaces.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { Pair } from './binding-table.ts';
import { dialbackErrorCondition, dialbackErrorText } from './dialback-elements.ts';
import { dialbackKey } from './dialback-key.ts';
import type { Step, StepHost, StepResult } from './negotiation.ts';
import { NS_TRELLIS_S2S } from './pair-authorization.ts';

/** 'busy': too many verifications wait on this connection already. */
export type VerifyOutcome = 'valid' | 'invalid' | 'error' | 'busy';

/** Verifications waiting for the peer's answer on one connection. */
export const MAX_PENDING_VERIFIES = 256;

const pairKey = (pair: Pair): string => `${pair.local} ${pair.remote}`;

export class DialbackInitiator implements Step {
  readonly name = 'dialback';
  readonly #host: StepHost;
  /** the peer declared the dialback namespace or offered the feature (XEP-0220 section 2.4) */
  #supported = false;
  /** the stream reached this step: requests may be written (once it is open) */
  #began = false;
  /** pairs whose <db:result/> awaits an answer, with the timer that gives up on it */
  readonly #requests = new Map<string, { pair: Pair; timer: NodeJS.Timeout; keyless?: boolean; activation: boolean }>();
  readonly #verifies = new Map<string, (outcome: VerifyOutcome) => void>();

  constructor(host: StepHost) {
    this.#host = host;
  }

  claims(element: Element): boolean {
    return element.xmlns === NS_DIALBACK;
  }

  /** the peer advertised dialback errors (section 2.5), which target multiplexing needs (section 2.6.2) */
  #errors = false;

  /** XEP-0220 section 2.4.1: the peer's stream header declared the dialback namespace. */
  declared(): void {
    this.#supported = true;
  }

  /** the peer offered Trellis's pairs extension: keyless requests (docs/federation.md) */
  #pairs = false;
  /** a refused keyless request was logged on this connection (once is enough) */
  #keylessRefusalLogged = false;

  /** Section 2.4.2: the dialback feature in any features the peer sent on this connection; also Trellis's pairs extension. */
  observe(features: Element): void {
    if (features.getChild('pairs', NS_TRELLIS_S2S)) this.#pairs = true;
    const feature = features.getChild('dialback', NS_DIALBACK_FEATURE);
    if (!feature) return;
    this.#supported = true;
    if (feature.getChild('errors', NS_DIALBACK_FEATURE)) this.#errors = true;
  }

  get errorsOffered(): boolean {
    return this.#errors;
  }

  /** pairs asked for and not yet answered */
  get waiting(): number {
    return this.#requests.size;
  }

  begin(): StepResult {
    this.#began = true;
    if (this.#requests.size === 0) return 'done';
    if (!this.#supported && !this.#host.authenticated) {
      this.#host.fail(new StanzaError('remote-server-timeout', `${this.#host.remoteDomain} offers neither SASL EXTERNAL nor dialback`));
      return 'done';
    }
    for (const { pair } of this.#requests.values()) this.#sendResult(pair);
    return 'done';
  }

  /**
   * Asks for a pair to be authorized on this stream (section 2.1.1), now if the stream has
   * reached dialback, else when it does. A pair that gets no answer in time is refused.
   * `activation`: on a host-named stream, host activation may take the request instead.
   */
  request(pair: Pair, activation = true): void {
    const key = pairKey(pair);
    if (this.#requests.has(key)) return;
    const seconds = this.#host.context.config.negotiation_timeout;
    const timer = setTimeout(() => this.#refuse(pair, new StanzaError('remote-server-timeout', `no dialback answer for ${pair.local} within ${seconds} s`)), seconds * 1000);
    timer.unref();
    this.#requests.set(key, { pair, timer, activation });
    if (this.#began) this.#sendResult(pair);
  }

  /** The pair was authorized otherwise (SASL EXTERNAL): no request is needed. */
  settle(pair: Pair): void {
    clearTimeout(this.#requests.get(pairKey(pair))?.timer);
    this.#requests.delete(pairKey(pair));
  }

  #sendResult(pair: Pair, withKey = false): void {
    const request = this.#requests.get(pairKey(pair));
    // On a host-named stream, host activation proves both domains where both hosts have it.
    if (request?.activation && this.#host.activate(pair)) return this.settle(pair);
    // Draft-ietf-xmpp-dna-01 section 6: once the connection is authenticated (a host-named stream
    // is, by both certificates), a peer that offered the pairs extension is asked without a key,
    // and proves the sender from what it knows of this connection; others get the key of
    // standard dialback (XEP-0220 section 2.6).
    const keyless = !withKey && this.#pairs && (this.#host.authenticated || this.#host.hostNamed) && this.#host.secure;
    if (request) request.keyless = keyless;
    const key = keyless ? [] : [dialbackKey(this.#host.context.secret, pair.remote, pair.local, this.#host.streamId)];
    const sent = this.#host.send(new Element('result', NS_DIALBACK, { from: pair.local, to: pair.remote }, key));
    if (!sent) this.#refuse(pair, new StanzaError('resource-constraint', 'too many requests wait on this connection'));
  }

  #refuse(pair: Pair, error: StanzaError): void {
    if (!this.#requests.has(pairKey(pair))) return;
    this.settle(pair);
    this.#host.refused(pair, error);
  }

  /**
   * Section 2.1.2: asks the peer, as authoritative server for `sender`, whether `key` is one it
   * made for the stream `id` we received from it as `receiving`.
   */
  verify(sender: string, receiving: string, id: string, key: string): Promise<VerifyOutcome> {
    const answerKey = `${sender} ${receiving} ${id}`;
    if (this.#verifies.size >= MAX_PENDING_VERIFIES || this.#verifies.has(answerKey)) return Promise.resolve('busy');
    return new Promise((resolve) => {
      this.#verifies.set(answerKey, resolve);
      if (this.#host.send(new Element('verify', NS_DIALBACK, { from: receiving, to: sender, id }, [key]))) return;
      this.#verifies.delete(answerKey);
      resolve('busy');
    });
  }

  handle(element: Element): StepResult {
    if (element.name === 'result') this.#onResult(element);
    else if (element.name === 'verify') this.#onVerify(element);
    return 'done';
  }

  #onResult(result: Element): void {
    const pair = { local: result.attrs.to ?? '', remote: result.attrs.from ?? '' };
    const type = result.attrs.type;
    // Section 3.1: only an answer to a request we made on this stream counts; a request (no
    // type) is not accepted on a stream we opened (XEP-0288 would allow it on a bidi stream).
    if (type === 'invalid' && this.#pairs && !this.#requests.has(pairKey(pair))) {
      // Draft section 6: on a connection with per-pair authorization, invalid revokes one pair.
      return this.#host.revoked(pair);
    }
    if (!type || !this.#requests.has(pairKey(pair))) {
      this.#host.warnOfPeer('s2s outgoing ignored an unsolicited dialback result', { from: pair.remote, to: pair.local, type });
      return;
    }
    if (type === 'valid') {
      this.settle(pair);
      return this.#host.authorized(pair, 'dialback');
    }
    if (this.#requests.get(pairKey(pair))?.keyless && !this.#host.hostNamed) {
      // Nothing proves the sender here beyond its certificate: standard dialback piggybacking
      // next, where the peer's policy allows it (the digest's section 5.7).
      if (!this.#keylessRefusalLogged) {
        this.#keylessRefusalLogged = true;
        this.#host.logger.info('s2s outgoing keyless pair refused: asking with a dialback key', { local: pair.local, remote: pair.remote, reason: dialbackErrorText(result) ?? type });
      }
      return this.#sendResult(pair, true);
    }
    // Section 2.1.1: invalid bounces the pair's stanzas with internal-server-error; an error is not fatal.
    // On a host-named stream the pair goes to a standard stream of its own instead (server-connection.ts).
    const error =
      type === 'invalid'
        ? new StanzaError('internal-server-error', `${pair.remote} refused our dialback key for ${pair.local}`)
        : new StanzaError('remote-server-timeout', `dialback for ${pair.local} failed: ${dialbackErrorCondition(result) ?? 'error'}`);
    this.#refuse(pair, error);
  }

  #onVerify(answer: Element): void {
    const answerKey = `${answer.attrs.from} ${answer.attrs.to} ${answer.attrs.id}`;
    const resolve = this.#verifies.get(answerKey);
    // Section 3.1: drop answers that match no request on this stream.
    if (!resolve || !answer.attrs.type) {
      this.#host.warnOfPeer('s2s outgoing ignored an unsolicited dialback verify', { from: answer.attrs.from, to: answer.attrs.to });
      return;
    }
    this.#verifies.delete(answerKey);
    const type = answer.attrs.type;
    resolve(type === 'valid' ? 'valid' : type === 'invalid' ? 'invalid' : 'error');
  }

  /** The stream is gone: verifications waiting fail, requests are forgotten (their stanzas bounce with the connection). */
  closed(): void {
    for (const resolve of this.#verifies.values()) resolve('error');
    this.#verifies.clear();
    for (const { timer } of this.#requests.values()) clearTimeout(timer);
    this.#requests.clear();
  }
}
