/**
 * Negotiating a server stream as ordered steps (RFC 6120 section 4.3; XEP-0170 section 4:
 * TLS first, then XEP-0288 bidi when it comes, then SASL EXTERNAL or dialback). The same steps
 * serve both roles: the initiator starts each in turn as the peer's features allow, the receiver
 * offers them in its features and answers the peer's requests.
 *
 * A step that has begun an exchange owns the stream until the exchange ends: RFC 6120 sections
 * 5.4.2 and 6.3.5 allow nothing else between <starttls/> and the TLS handshake, or between
 * <auth/> and the restart after <success/>. Everything else that wants to write (dialback
 * requests and answers, authorized pairs starting to send) waits in a bounded queue until the
 * stream is open again. COMPAT(ejabberd): ejabberd resets its parser at <success/>, so a
 * <db:verify/> written after our <auth/> reached it on a stream without our header, its db:
 * prefix unbound, and it closed the stream (not-well-formed).
 */
import type { StreamErrorCondition } from '../net/stream-errors.ts';
import type { Admission } from '../policy/verdict.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import type { StanzaError } from '../xml/stanza-error.ts';
import type { Pair } from './binding-table.ts';
import type { AuthMethod, S2sContext } from './context.ts';
import type { CertificateVerdict } from './peer-certificate.ts';
import type { PairVerdict } from './pair-authorization.ts';
import type { PeerWarnings } from './peer-warnings.ts';

export type Role = 'initiator' | 'receiver';

export type StepResult =
  /** the step has nothing (more) to do: the next one may run */
  | 'done'
  /** the step began an exchange and owns the stream until it reports again */
  | 'running'
  /** the exchange ends in a stream restart: the next step runs on the new stream */
  | 'restart';

export interface Step {
  readonly name: 'host-named' | 'tls' | 'bidi' | 'sasl-external' | 'host-activation' | 'dialback';
  /** Receiver: adds what this step offers now to `features`; true when nothing may follow it (RFC 6120 section 5.3.1). */
  offer?(features: Element): boolean;
  /** Initiator: the peer's features (undefined from a pre-1.0 peer, RFC 6120 section 4.7.5). */
  begin?(features: Element | undefined): StepResult;
  /** Whether a first-level element from the peer belongs to this step. */
  claims(element: Element): boolean;
  handle(element: Element): StepResult | Promise<StepResult>;
}

/** What waits for the stream: bounded, so that a peer cannot make it grow while a step runs. */
export const MAX_WAITING = 1024;

/** Where the negotiation tells what it does, for `log.level: debug` (each step begun, each element a step handled). */
export type NegotiationTrace = (message: string, fields: () => Record<string, string>) => void;

/** An element in a log line: its name, namespace and the attributes that tell what it is. */
export function describeElement(element: Element): string {
  const attrs = ['type', 'from', 'to', 'mechanism', 'id'].flatMap((name) => (element.attrs[name] === undefined ? [] : [`${name}=${element.attrs[name]}`]));
  return [`<${element.name} xmlns=${element.xmlns}>`, ...attrs].join(' ');
}

export class Negotiation {
  readonly role: Role;
  readonly #steps: readonly Step[];
  readonly #trace: NegotiationTrace;
  /** initiator: the next step to begin */
  #next = 0;
  #owner: Step | undefined;
  /** the owner's exchange ends in a restart, which new features (initiator) or a new header (receiver) follow */
  #restarting = false;
  /** initiator: every step has run; receiver: our header and features are out */
  #open = false;
  #waiting: (() => void)[] = [];
  #features: Element | undefined;
  /** the stream is gone: no step begins any more */
  #ended = false;

  constructor(role: Role, steps: readonly Step[], trace: NegotiationTrace = () => {}) {
    this.role = role;
    this.#steps = steps;
    this.#trace = trace;
  }

  /** Whether writes go out now rather than wait. */
  get open(): boolean {
    return this.#open && this.#owner === undefined;
  }

  /** Initiator: every step has run (a later one may still authorize more pairs). */
  get complete(): boolean {
    return this.#next >= this.#steps.length;
  }

  /** The step that owns the stream, if any. */
  get owner(): string | undefined {
    return this.#owner?.name;
  }

  /**
   * Runs `action` (a write, or something that writes) now if the stream is open, else once it
   * is. False when too much is waiting already: the caller fails what it wanted to do.
   */
  whenOpen(action: () => void): boolean {
    if (this.open) {
      action();
      return true;
    }
    if (this.#waiting.length >= MAX_WAITING) return false;
    this.#waiting.push(action);
    return true;
  }

  /** Receiver: we sent our header and features; the stream is open. */
  headerSent(): void {
    this.#owner = undefined;
    this.#restarting = false;
    this.#open = true;
    this.#flush();
  }

  /** Receiver: adds the features to offer at this point, step by step; true when nothing may follow them. */
  offer(features: Element): boolean {
    return this.#steps.some((step) => step.offer?.(features) ?? false);
  }

  /**
   * Initiator: the peer's features arrived; the steps not yet run begin, in order. Features
   * in the middle of an exchange (before <proceed/> or <success/>) are not acted on.
   */
  features(features: Element | undefined): void {
    if (this.#owner && !this.#restarting) return;
    this.#features = features;
    this.#owner = undefined;
    this.#restarting = false;
    this.#advance();
  }

  #advance(): void {
    while (this.#next < this.#steps.length) {
      if (this.#ended) return;
      const step = this.#steps[this.#next]!;
      const result = step.begin?.(this.#features) ?? 'done';
      if (step.begin) this.#trace('s2s negotiation step began', () => ({ step: step.name, result }));
      if (result !== 'done') return this.#own(step, result);
      this.#next++;
    }
    this.#open = true;
    this.#flush();
  }

  #own(step: Step, result: 'running' | 'restart'): void {
    this.#owner = step;
    this.#restarting = result === 'restart';
    if (this.#restarting && this.role === 'initiator') this.#next = this.#steps.indexOf(step) + 1;
  }

  /**
   * Hands a peer's element to the step it belongs to; false when none claims it. A step whose
   * handling is asynchronous owns the stream until it settles (a TLS handshake); a step that
   * must not hold the stream (dialback, waiting on another server) answers at once and goes on
   * in the background. A step's error propagates, as a rejected promise.
   */
  handle(element: Element): false | Promise<void> {
    const step = this.#steps.find((candidate) => candidate.claims(element));
    if (!step) return false;
    this.#trace('s2s negotiation step handles an element', () => ({ step: step.name, element: describeElement(element) }));
    const result = step.handle(element);
    if (!(result instanceof Promise)) return Promise.resolve(this.#settle(step, result));
    this.#own(step, 'running');
    return result.then((settled) => this.#settle(step, settled));
  }

  #settle(step: Step, result: StepResult): void {
    if (result !== 'done') return this.#own(step, result);
    if (this.#owner !== step) return;
    this.#owner = undefined;
    if (this.role === 'receiver') return this.#flush();
    // The initiator goes on with the next step on the same features (SASL refused: dialback).
    this.#next = this.#steps.indexOf(step) + 1;
    this.#advance();
  }

  #flush(): void {
    while (this.open && this.#waiting.length > 0) this.#waiting.shift()!();
  }

  /** The stream is gone (or failed in a step): nothing waiting runs, no further step begins. */
  clear(): void {
    this.#ended = true;
    this.#waiting = [];
  }
}

/** What a step may use of the connection it runs on. */
export interface StepHost extends PeerWarnings {
  readonly role: Role;
  readonly context: S2sContext;
  readonly logger: Logger;
  /** the peer's IP address */
  readonly remoteAddress: string;
  /** the stream runs over TLS */
  readonly secure: boolean;
  /** our domain and the peer's, from the stream headers (undefined until known) */
  readonly localDomain: string | undefined;
  readonly remoteDomain: string | undefined;
  /** the receiving side's stream id, which dialback keys are bound to (XEP-0220 section 2.1.1) */
  readonly streamId: string;
  /** Writes now: for the step that owns the stream. */
  write(element: Element): void;
  /** Writes once the stream is open; false when too much waits already. */
  send(element: Element): boolean;
  /** What the peer's certificate proves about `domain` (RFC 6125). */
  certificate(domain: string): CertificateVerdict;
  /**
   * Upgrades to TLS as this role; the initiator then opens its new stream. False when the
   * handshake failed, which the host has dealt with (RFC 6120 section 5.4.3.2: the TCP
   * connection is closed).
   */
  startTls(): Promise<boolean>;
  /** Restarts the stream after SASL (RFC 6120 section 6.4.6): the initiator opens its new stream. */
  restart(): void;
  /**
   * Policy's verdict on authorizing `pair` here with `method` (src/policy): asked before any
   * answer tells the peer the pair is valid.
   */
  admits(pair: Pair, method: AuthMethod): Admission;
  /** A pair is authorized on this connection (outbound for the initiator, inbound for the receiver). */
  authorized(pair: Pair, method: AuthMethod): void;
  /** A pair was refused by the method named (outbound for the initiator, inbound for the receiver): counted for the metrics; the refusal itself is the caller's. */
  pairRefused(pair: Pair, method: string): void;
  /** Initiator: a pair we asked for was refused; `error` is what its stanzas bounce with. */
  refused(pair: Pair, error: StanzaError): void;
  /** Initiator: the peer revoked a pair it had granted on this connection (draft-ietf-xmpp-dna-01 section 6). */
  revoked(pair: Pair): void;
  /** Receiver: the peer asks for pairs without keys (the Trellis pairs extension is in use on this connection). */
  usePairs(): void;
  /** Receiver: whether `sender` is proven for this connection (pair-authorization.ts). */
  proveSender(sender: string): Promise<PairVerdict>;
  /** Whether any pair is authorized inbound on this connection. */
  readonly authenticated: boolean;
  /** XEP-0288: the connection carries traffic both ways */
  readonly bidi: boolean;
  /** the stream is named after the two hosts (step-host-named.ts): pairs are authorized by proofs only */
  readonly hostNamed: boolean;
  /** Initiator: asks for `pair` by host activation instead of a dialback request; false when activation is not available here. */
  activate(pair: Pair): boolean;
  /** XEP-0288: bidi is on for this connection (requested by the initiator, accepted by the receiver); `reversePairs`: the receiver may ask for pairs too (reverse-pairs.ts). */
  /** `peerKeepsRelayTrace`: the receiver's peer asked for bidi announcing the relay trace (relay-trace.ts) */
  enableBidi(reversePairs: boolean, peerKeepsRelayTrace?: boolean): void;
  /** Ends the negotiation: stanzas waiting bounce with `error`; the stream ends with `condition` if given. */
  fail(error: StanzaError, condition?: StreamErrorCondition): void;
}
