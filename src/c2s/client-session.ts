/**
 * A bound client resource (RFC 6120 section 7) apart from the connection that carries it: the
 * session holds what was sent to the client until the client has it, so it can outlive its
 * socket while stream management (XEP-0198) lets the client resume, and nothing it held is lost
 * when it ends: undelivered messages go back through the router (to another resource or to
 * offline storage), undelivered IQs bounce.
 */
import { stanzaKind } from '../router/traffic-counters.ts';
import type { Jid } from '../jid/jid.ts';
import { nextArrival, nextQueuePosition, noteArrival } from '../router/arrival.ts';
import type { Router } from '../router/router.ts';
import { newImState, type BoundSession, type ImStateOwner, type SessionEndCondition, type SessionImState } from '../router/sessions.ts';
import type { Logger } from '../util/log.ts';
import { NS_CLIENT, type Element } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import { AddressedCopy } from '../xml/stanza-copies.ts';
import { OutboundQueue, type OutboundEntry } from './outbound-queue.ts';
import type { OutputBudget } from '../net/output-budget.ts';
import { BehindBacklog } from './behind-backlog.ts';
import { ackElement, ackRequest, acknowledgedCount } from '../net/stream-management.ts';
import { HeldStanzas, holdKey } from './client-state.ts';
import type { HandedOverSession } from './hand-over.ts';
import { parseElement } from '../xml/parse-element.ts';

/** What a session needs from the connection that carries it. */
export interface SessionTransport {
  /** "address:port" of the client, for logs */
  readonly peer: string;
  /** Queues serialized XML; returns the stream offset at its end. */
  write(xml: string): number;
  /** offset up to which the socket has taken what was written */
  readonly writtenOffset: number;
  /** Ends the stream with a stream error (RFC 6120 section 4.9). */
  end(condition: SessionEndCondition, text?: string): void;
  /** Drops the connection at once, as for a peer that stopped answering. */
  drop(): void;
}

export interface ClientSessionContext {
  router: Router;
  budget: OutputBudget;
  logger: Logger;
  /** stanzas sent and not yet acknowledged after which an acknowledgement is asked for at once */
  ackRequestThreshold: number;
  /** stanzas held for an inactive client (XEP-0352) before they are all sent */
  maxHeldWhileInactive: number;
  /** A live session could not take a stanza (its budget is spent, or it has an offline backlog). */
  spill(session: ClientSession, stanza: Element): Promise<void>;
  /** The session ended: these stanzas never reached the client. */
  undelivered(session: ClientSession, stanzas: Element[]): Promise<void>;
  /** A session was bound. */
  started(session: ClientSession): void;
  /** The session ended for good (after its undelivered stanzas were handled). */
  ended(session: ClientSession): void;
}

/** Stream management state (XEP-0198), from <enable/> on. */
interface StreamManagement {
  /** the resumption id; undefined when the client did not ask for resumption */
  readonly id: string | undefined;
  /** seconds the session waits for its client to resume */
  readonly resumeSeconds: number;
  /** stanzas received from the client (section 4: its `h` for our <a/>) */
  received: number;
  /** stanzas sent to the client under stream management */
  sent: number;
  /** an <r/> is out and not yet answered */
  ackRequested: boolean;
  ackTimer: NodeJS.Timeout | undefined;
}

/** Delay before asking for an acknowledgement of a stanza that is still unacknowledged. */
const ACK_REQUEST_DELAY_MS = 1000;
/** What a session with nothing pending waits on: one settled promise for all. */
const SETTLED: Promise<void> = Promise.resolve();

export class ClientSession implements BoundSession, ImStateOwner {
  readonly jid: Jid;
  readonly im: SessionImState;
  readonly boundAt = Date.now();
  /** see offlineBacklog */
  #offlineBacklog = false;
  /** messages that came while the offline backlog was delivered */
  readonly #behindBacklog: BehindBacklog;
  #context: ClientSessionContext;
  #transport: SessionTransport | undefined;
  /** the connection that carried the session last (its written offset stays readable after it closed) */
  #lastTransport: SessionTransport;
  #queue = new OutboundQueue();
  #sm: StreamManagement | undefined;
  #state: 'attached' | 'detached' | 'ended' = 'attached';
  #resumeTimer: NodeJS.Timeout | undefined;
  /** the client said it is inactive (XEP-0352); every stream begins active */
  #inactive = false;
  /** what waits for the client to be active again (client-state.ts); made on the first stanza held, as most sessions never go inactive */
  #held: HeldStanzas | undefined;
  /** spills run one after another so that stored messages keep their order */
  #spills = SETTLED;
  /** spills begun and not yet stored */
  #spillsUnderWay = 0;
  /** while another node takes the session over (beginHandOver): what is sent to it meanwhile, in order */
  #handingOver: Element[] | undefined;
  /** why the session was to end while it was being handed over: it ends so if it stays here */
  #endAfterHandOver: string | undefined;
  /** whether the session has ended and its undelivered stanzas were handled */
  #endedForGood = false;
  /** made for whoever waits for the end before it came: most sessions end with nobody waiting */
  #endWaiters: PromiseWithResolvers<void> | undefined;

  constructor(jid: Jid, transport: SessionTransport, context: ClientSessionContext) {
    this.jid = jid;
    this.#transport = transport;
    this.#lastTransport = transport;
    this.#context = context;
    this.#behindBacklog = new BehindBacklog(context.budget);
    this.im = newImState(this);
    context.started(this);
  }

  get peer(): string {
    return this.#lastTransport.peer;
  }

  /** Its IM state changed (ImStateOwner): the session table tells whoever observes it. */
  imChanged(): void {
    this.#context.router.sessions.imChanged(this);
  }

  /** resolves once the session has ended and its undelivered stanzas were handled */
  get ended(): Promise<void> {
    if (this.#endedForGood) return SETTLED;
    return (this.#endWaiters ??= Promise.withResolvers<void>()).promise;
  }

  #markEnded(): void {
    this.#endedForGood = true;
    this.#endWaiters?.resolve();
  }

  get state(): 'attached' | 'detached' | 'ended' {
    return this.#state;
  }

  /** characters of XML this session holds for its client */
  get heldChars(): number {
    return this.#queue.chars;
  }

  get heldStanzas(): number {
    return this.#queue.size;
  }

  /** stanzas held back while the client is inactive (XEP-0352) */
  get heldWhileInactive(): number {
    return this.#held?.size ?? 0;
  }

  get inactive(): boolean {
    return this.#inactive;
  }

  /** true while messages for this resource wait in offline storage: new ones wait behind them, so order holds */
  get offlineBacklog(): boolean {
    return this.#offlineBacklog;
  }

  /** Set by the offline delivery (modules/offline); once it is done, what waited behind the backlog goes out, in order. */
  set offlineBacklog(backlog: boolean) {
    this.#offlineBacklog = backlog;
    if (backlog) return;
    for (const { element, xml } of this.#behindBacklog.drain()) this.#deliver(element, xml);
  }

  get streamManagementId(): string | undefined {
    return this.#sm?.id;
  }

  get streamManagement(): boolean {
    return this.#sm !== undefined;
  }

  // --- sending ------------------------------------------------------------------------------

  send(stanza: Element): void {
    if (this.#handingOver) return void this.#handingOver.push(stanza);
    if (this.#state === 'ended') {
      void this.#context.undelivered(this, [stanza]);
      return;
    }
    if (this.#inactive && this.#hold(stanza)) return;
    this.#deliver(stanza);
  }

  /**
   * Queues a stanza for the client; a message waits behind the offline backlog while there is
   * one (so order holds); past the output budget it is spilled (a message to offline storage,
   * an IQ request bounced, presence not queued: the context's `spill`).
   */
  #deliver(stanza: Element, serialized?: string): void {
    // A copy of a broadcast carries its XML, made once for all its recipients (src/xml/stanza-copies.ts).
    const xml = serialized ?? (stanza instanceof AddressedCopy ? stanza.xml : serialize(stanza, NS_CLIENT));
    if (this.#offlineBacklog && isStorableMessage(stanza)) return this.#waitBehindBacklog(stanza, xml);
    if (!this.#context.budget.fits(this.#queue.chars, xml.length)) {
      this.#context.budget.overflows++;
      return this.#spill(stanza);
    }
    this.#context.router.traffic.sent.add('client', stanzaKind(stanza.name));
    this.#enqueue(stanza, xml, undefined);
  }

  /**
   * Sends outside the budget and the offline backlog (the caller paces itself) and resolves
   * true once the client has the stanza: written to its socket, or acknowledged under stream
   * management; false when the session ended first.
   */
  sendTracked(stanza: Element): Promise<boolean> {
    if (this.#state === 'ended' || this.#handingOver) return Promise.resolve(false);
    this.#releaseHeld();
    return new Promise((settle) => {
      this.#enqueue(stanza, serialize(stanza, NS_CLIENT), settle);
      if (this.#sm && !this.#sm.ackRequested) this.#requestAck();
    });
  }

  #enqueue(element: Element, xml: string, settle: ((delivered: boolean) => void) | undefined): void {
    const sm = this.#sm;
    const entry: OutboundEntry = { element, xml, end: 0, seq: sm ? ++sm.sent : 0, settle, queuedAt: nextQueuePosition() };
    this.#queue.push(entry);
    this.#context.budget.take(xml.length);
    if (this.#transport) entry.end = this.#transport.write(xml);
    if (sm) this.#scheduleAckRequest(sm);
  }

  // --- client state indication (XEP-0352) -----------------------------------------------------

  /** Section 4: <inactive/> holds back what can wait; <active/> sends it. */
  setInactive(inactive: boolean): void {
    const changed = this.#inactive !== inactive;
    this.#inactive = inactive;
    // A cluster's other nodes decide push notifications (XEP-0357) on it too.
    if (changed) this.#context.router.sessions.imChanged(this);
    if (!inactive) this.#releaseHeld();
  }

  /**
   * Holds a stanza that can wait, returning true. An important stanza first releases what is
   * held (so order is kept) and returns false; so does one that would pass
   * `maxHeldWhileInactive` or the output budget, the cap being a flush, not a loss.
   */
  #hold(stanza: Element): boolean {
    const key = holdKey(stanza);
    if (key !== undefined) {
      const held = (this.#held ??= new HeldStanzas());
      const full = !held.has(key) && held.size >= this.#context.maxHeldWhileInactive;
      const xml = serialize(stanza, NS_CLIENT);
      if (!full && this.#context.budget.fits(this.#queue.chars + held.chars, xml.length)) {
        this.#context.budget.take(xml.length);
        const replaced = held.put(key, { element: stanza, xml });
        if (replaced) this.#context.budget.release(replaced.xml.length);
        return true;
      }
    }
    this.#releaseHeld();
    return false;
  }

  /** Sends what was held, oldest first. */
  #releaseHeld(): void {
    for (const held of this.#held?.drain() ?? []) {
      this.#context.budget.release(held.xml.length);
      this.#deliver(held.element, held.xml);
    }
  }

  /**
   * A message for a client that is being sent its stored messages waits behind them in the
   * session (behind-backlog.ts), so a backlog with messages coming faster than storage takes
   * them one by one still ends. Past the budget it goes to storage, and what waits with it,
   * where their arrival keeps them in order.
   */
  #waitBehindBacklog(stanza: Element, xml: string): void {
    noteArrival(stanza, nextArrival());
    if (this.#behindBacklog.hold(stanza, xml, this.#queue.chars)) return;
    this.#context.budget.overflows++;
    this.#spillBehindBacklog();
    this.#spill(stanza);
  }

  /** What waited behind the offline backlog goes to storage, in order. */
  #spillBehindBacklog(): void {
    for (const { element } of this.#behindBacklog.drain()) this.#spill(element);
  }

  #spill(stanza: Element): void {
    // A resource that takes no offline messages (negative priority, XEP-0160 section 2) never drains a backlog.
    if (isStorableMessage(stanza) && this.im.available && this.im.priority >= 0) this.offlineBacklog = true;
    noteArrival(stanza, nextArrival());
    this.#spillsUnderWay++;
    this.#spills = this.#spills
      .then(() => this.#context.spill(this, stanza))
      .finally(() => void this.#spillsUnderWay--);
  }

  get spilling(): Promise<void> | undefined {
    return this.#spillsUnderWay > 0 ? this.#spills : undefined;
  }

  /** The transport wrote up to `offset`: stanzas sent without stream management are now the client's. */
  written(offset: number): void {
    for (let head = this.#queue.peek(); head && head.seq === 0 && head.end !== 0 && head.end <= offset; head = this.#queue.peek()) {
      this.#release(this.#queue.shift()!, true);
    }
  }

  #release(entry: OutboundEntry, delivered: boolean): void {
    this.#context.budget.release(entry.xml.length);
    entry.settle?.(delivered);
  }

  // --- stream management (XEP-0198) -----------------------------------------------------------

  /** Section 3: counting starts now; with an id the session may be resumed within `resumeSeconds`. */
  enableStreamManagement(id: string | undefined, resumeSeconds: number): void {
    this.#sm = { id, resumeSeconds, received: 0, sent: 0, ackRequested: false, ackTimer: undefined };
    // A cluster publishes the id with the session, for a client resuming on another node (docs/cluster.md).
    if (id !== undefined) this.#context.router.sessions.imChanged(this);
  }

  /** stanzas sent under stream management */
  get sentCount(): number {
    return this.#sm?.sent ?? 0;
  }

  /** A stanza from the client was handled (section 4: it counts towards our `h`). */
  countReceived(): void {
    if (this.#sm) this.#sm.received++;
  }

  /** Section 4: the answer to the client's <r/>. */
  answerAckRequest(): void {
    if (this.#sm && this.#transport) this.#transport.write(ackElement(this.#sm.received));
  }

  /**
   * Section 4: the client acknowledged `h` stanzas. Returns the true sent count when `h` is
   * more than was sent (the caller ends the stream), else undefined.
   */
  acknowledge(h: number): number | undefined {
    const sm = this.#sm;
    if (!sm) return undefined;
    const acked = acknowledgedCount(h, sm.sent);
    if (acked === undefined) return sm.sent;
    sm.ackRequested = false;
    for (let head = this.#queue.peek(); head && (head.seq === 0 ? head.end !== 0 && head.end <= this.#lastTransport.writtenOffset : head.seq <= acked); head = this.#queue.peek()) {
      this.#release(this.#queue.shift()!, true);
    }
    if (this.#queue.size > 0) this.#scheduleAckRequest(sm);
    else clearTimeout(sm.ackTimer);
    return undefined;
  }

  /** Asks for an acknowledgement at once when many stanzas wait for one, else after a short delay. */
  #scheduleAckRequest(sm: StreamManagement): void {
    if (sm.ackRequested || !this.#transport) return;
    if (this.#queue.size >= this.#context.ackRequestThreshold) return this.#requestAck();
    if (sm.ackTimer === undefined) {
      sm.ackTimer = setTimeout(() => {
        sm.ackTimer = undefined;
        if (this.#queue.size > 0 && !sm.ackRequested) this.#requestAck();
      }, ACK_REQUEST_DELAY_MS);
      sm.ackTimer.unref();
    }
  }

  #requestAck(): void {
    const sm = this.#sm;
    if (!sm || !this.#transport) return;
    sm.ackRequested = true;
    this.#transport.write(ackRequest);
  }

  /** Asks a silent client to show it is alive: <r/> under stream management. Returns false when the caller must ping instead. */
  probe(): boolean {
    if (!this.#sm || !this.#transport) return false;
    this.#requestAck();
    return true;
  }

  // --- transport changes ----------------------------------------------------------------------

  /**
   * Section 5: the client resumed on a new connection. Its `h` acknowledges what it got; the
   * rest is sent again on the new stream. Returns our count of stanzas received, for <resumed/>.
   * Returns undefined when `h` acknowledges more than was sent.
   */
  resume(transport: SessionTransport, h: number): number | undefined {
    const sm = this.#sm!;
    if (acknowledgedCount(h, sm.sent) === undefined) return undefined;
    const old = this.#lastTransport;
    const attached = this.#transport;
    this.#transport = undefined;
    clearTimeout(this.#resumeTimer);
    attached?.end('conflict', 'the session was resumed on another connection');
    this.#transport = transport;
    this.#lastTransport = transport;
    this.#state = 'attached';
    this.#context.router.sessions.imChanged(this);
    const received = sm.received;
    // Stanzas sent before <enable/> are not counted by the client; those not written are lost to this stream.
    const uncounted: Element[] = [];
    while (this.#queue.peek()?.seq === 0) {
      const entry = this.#queue.shift()!;
      if (entry.end !== 0 && entry.end <= old.writtenOffset) this.#release(entry, true);
      else {
        this.#release(entry, false);
        if (!entry.settle) {
          noteArrival(entry.element, entry.queuedAt);
          uncounted.push(entry.element);
        }
      }
    }
    if (uncounted.length > 0) for (const stanza of uncounted) this.#spill(stanza);
    this.acknowledge(h);
    return received;
  }

  /** Writes again every stanza the client has not acknowledged (after <resumed/>). */
  resend(): void {
    const transport = this.#transport;
    if (!transport) return;
    for (const entry of this.#queue) entry.end = transport.write(entry.xml);
    // XEP-0352 section 4: a stream begins active, a resumed one too: what was held follows.
    this.setInactive(false);
    if (this.#sm && this.#queue.size > 0) this.#requestAck();
  }

  /**
   * The connection is gone. With resumption enabled the session waits `resumeTimeout` seconds
   * for the client (section 5), keeping what it holds; otherwise it ends now. A client that
   * closed its stream (RFC 6120 section 4.4) ended the session on purpose: there is nothing to
   * resume, and what it did not acknowledge is handled at once.
   */
  transportLost(transport: SessionTransport, reason: string, closedByClient = false): void {
    if (this.#transport !== transport || this.#state === 'ended') return;
    this.#transport = undefined;
    if (this.#sm?.id === undefined || closedByClient) {
      void this.end(reason);
      return;
    }
    this.#detach(this.#sm, reason);
  }

  #detach(sm: StreamManagement, reason: string): void {
    this.#state = 'detached';
    this.#context.router.sessions.imChanged(this);
    clearTimeout(sm.ackTimer);
    sm.ackTimer = undefined;
    sm.ackRequested = false;
    const seconds = sm.resumeSeconds;
    this.#resumeTimer = setTimeout(() => void this.end(`not resumed within ${seconds} s (${reason})`), seconds * 1000);
    this.#resumeTimer.unref();
    this.#log('info', 'c2s session waiting for resumption', { reason, held: this.#queue.size });
  }

  // --- resumption on another node of a cluster (hand-over.ts) ---------------------------------

  /**
   * XEP-0198 section 5 across nodes: what a client resuming on another node needs, with the
   * session stopped where it is: what is sent to it from now on waits. `commit` gives the session
   * up (its connection, if it still has one, ends with `conflict`) and returns what waited, for
   * the new node; `abort` keeps it here and sends what waited. Undefined when it cannot be resumed.
   */
  beginHandOver(): { state: HandedOverSession; commit(): Element[]; abort(): void } | undefined {
    const sm = this.#sm;
    if (this.#state === 'ended' || this.#handingOver || sm?.id === undefined) return undefined;
    const waiting: Element[] = (this.#handingOver = []);
    const held = this.#held?.drain() ?? [];
    for (const stanza of held) this.#context.budget.release(stanza.xml.length);
    const { im } = this;
    const state: HandedOverSession = {
      jid: this.jid.toString(),
      id: sm.id,
      resumeSeconds: sm.resumeSeconds,
      received: sm.received,
      sent: sm.sent,
      unacknowledged: [...this.#queue].filter((entry) => entry.seq > 0).map((entry) => ({ seq: entry.seq, xml: entry.xml })),
      held: held.map((stanza) => stanza.xml),
      ...(im.presenceXml === undefined ? {} : { presence: im.presenceXml }),
      priority: im.priority,
      carbons: im.carbons,
      rosterRequested: im.rosterRequested,
      directed: [...im.directedPresence],
      offlineBacklog: this.offlineBacklog,
    };
    const commit = (): Element[] => {
      this.#handingOver = undefined;
      this.#state = 'ended';
      clearTimeout(this.#resumeTimer);
      clearTimeout(sm.ackTimer);
      this.#transport?.end('conflict', 'the session was resumed on another connection');
      this.#transport = undefined;
      const lastWritten = this.#lastTransport.writtenOffset;
      for (const entry of this.#queue.drain()) {
        // Counted ones travel with the session; uncounted ones not yet written are stored, as on a resumption here.
        const written = entry.seq > 0 || (entry.end !== 0 && entry.end <= lastWritten);
        this.#release(entry, written);
        if (!written && !entry.settle) this.#spill(entry.element);
      }
      this.#spillBehindBacklog();
      this.#log('info', 'c2s session handed over to another node', { unacknowledged: state.unacknowledged.length, held: held.length, waiting: waiting.length });
      this.#context.ended(this);
      this.#markEnded();
      return waiting;
    };
    const abort = (): void => {
      this.#handingOver = undefined;
      for (const stanza of held) this.#deliver(stanza.element, stanza.xml);
      for (const stanza of waiting) this.send(stanza);
      if (this.#endAfterHandOver !== undefined) void this.end(this.#endAfterHandOver);
    };
    return { state, commit, abort };
  }

  /**
   * A session another node gave up (beginHandOver there), detached here and waiting for its
   * client to resume it (section 5) as any session of this node.
   */
  static handedOver(jid: Jid, state: HandedOverSession, from: string, context: ClientSessionContext): ClientSession {
    const placeholder: SessionTransport = { peer: from, writtenOffset: 0, write: () => 0, end() {}, drop() {} };
    const session = new ClientSession(jid, placeholder, context);
    session.#transport = undefined;
    const sm: StreamManagement = { id: state.id, resumeSeconds: state.resumeSeconds, received: state.received, sent: state.sent, ackRequested: false, ackTimer: undefined };
    session.#sm = sm;
    for (const { seq, xml } of state.unacknowledged) {
      session.#queue.push({ element: parseElement(xml, undefined, NS_CLIENT), xml, end: 0, seq, settle: undefined, queuedAt: nextArrival() });
      context.budget.take(xml.length);
    }
    const { im } = session;
    im.presence = state.presence === undefined ? undefined : parseElement(state.presence);
    im.priority = state.priority;
    im.carbons = state.carbons;
    im.rosterRequested = state.rosterRequested;
    for (const jid of state.directed) im.directedPresence.add(jid);
    session.#detach(sm, `handed over by ${from}`);
    // Held while the client was inactive: a resumed stream begins active (XEP-0352 section 4), so they follow, counted from here.
    for (const xml of state.held) session.#deliver(parseElement(xml, undefined, NS_CLIENT), xml);
    return session;
  }

  /** Ends the session with a stream error on its connection (BoundSession). */
  terminate(condition: SessionEndCondition, text?: string): void {
    const transport = this.#transport;
    this.#transport = undefined;
    transport?.end(condition, text);
    void this.end(text ? `${condition}: ${text}` : condition);
  }

  /** Drops the connection of a client that stopped answering; the session may still be resumed. */
  dropTransport(reason: string): void {
    const transport = this.#transport;
    if (!transport) return;
    this.transportLost(transport, reason);
    transport.drop();
  }

  /**
   * Ends the session for good: it leaves the session table, its features hear `session/closed`,
   * and what it held for the client is handed back (XEP-0198 section 5: as if sent to an
   * unavailable resource).
   */
  async end(reason: string): Promise<void> {
    if (this.#state === 'ended') return this.ended;
    if (this.#handingOver) {
      this.#endAfterHandOver ??= reason;
      return this.ended;
    }
    this.#state = 'ended';
    clearTimeout(this.#resumeTimer);
    if (this.#sm) clearTimeout(this.#sm.ackTimer);
    this.#transport?.end('system-shutdown');
    this.#transport = undefined;
    const lastWritten = this.#lastTransport.writtenOffset;
    const router = this.#context.router;
    router.sessions.remove(this);
    const host = router.hosts.get(this.jid.domain);
    try {
      await host?.events.emit('session/closed', { session: this, host });
    } catch (error) {
      this.#log('error', 'session/closed handler failed', { error: error instanceof Error ? error.stack : String(error) });
    }
    // Held back for an inactive client: presence and chat states, which are not delivered to a
    // resource that is gone (RFC 6121 section 8.5.3.2.2) nor stored offline (XEP-0160 section 3).
    const discarded = this.#held?.size ?? 0;
    for (const held of this.#held?.drain() ?? []) this.#context.budget.release(held.xml.length);
    const undelivered: Element[] = [];
    for (const entry of this.#queue.drain()) {
      const written = entry.seq === 0 && entry.end !== 0 && entry.end <= lastWritten;
      this.#context.budget.release(entry.xml.length);
      entry.settle?.(written);
      if (written || entry.settle) continue;
      // Older than what may already have gone to offline storage past the budget: stored in its place.
      noteArrival(entry.element, entry.queuedAt);
      undelivered.push(entry.element);
    }
    for (const { element } of this.#behindBacklog.drain()) undelivered.push(element);
    await this.#spills;
    try {
      if (undelivered.length > 0) await this.#context.undelivered(this, undelivered);
    } finally {
      this.#log('info', 'c2s session ended', { jid: this.jid.toString(), reason, undelivered: undelivered.length || undefined, discarded_while_inactive: discarded || undefined });
      this.#context.ended(this);
      this.#markEnded();
    }
  }

  #log(level: 'info' | 'error', message: string, fields: Record<string, unknown>): void {
    const logger = this.#context.logger;
    if (logger.enabled(level)) logger[level](message, { jid: this.jid.toString(), peer: this.peer, ...fields });
  }
}

/** A message offline storage would keep: normal or chat (RFC 6121 section 8.5.2.2.1). */
export function isStorableMessage(stanza: Element): boolean {
  if (stanza.name !== 'message' || stanza.xmlns !== NS_CLIENT) return false;
  const type = stanza.attrs.type;
  return type === undefined || type === 'normal' || type === 'chat';
}
