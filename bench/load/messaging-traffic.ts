/**
 * Closed-loop one-to-one messaging between logged-in clients of one process: client i sends
 * to client i+1's full JID (the last one to the first), keeping at most `window` messages in
 * flight to its peer. Each body carries the sender's index, a sequence number and the send time
 * (performance.now(), the same clock the receiver reads), padded to `bodyBytes`.
 *
 * With `ratePerSecond` the loop is open instead: the clients send in turn on a fixed schedule,
 * whatever arrives, and each message carries its scheduled time, so a sender or server that
 * falls behind shows as latency rather than hiding it (no coordinated omission). The schedule is
 * kept by a clock finer than Node's timers (pacer-clock.ts), so the sender's own lateness adds
 * little to what is measured.
 *
 * A run is warm-up, then the measured window, then a drain: every phase ends on a timer, and
 * sending also stops after `maxMessages`, so the loop always ends by itself.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchClient } from './bench-client.ts';
import { LatencyHistogram, type HistogramData } from './histogram.ts';
import { startPacerClock, type PacerClock } from './pacer-clock.ts';

export interface TrafficOptions {
  window: number;
  /** when set, this process's clients together send this many messages per second on a schedule; `window` is then unused */
  ratePerSecond?: number;
  bodyBytes: number;
  /** hard bound on messages sent over the whole run */
  maxMessages: number;
  /**
   * several servers of one cluster: client i logs in to `nodes[clientNode(i, nodes.length)]`, so
   * that half the messages cross nodes, and latency is also kept apart for those that do
   */
  nodes?: { address: string; port: number }[];
}

/**
 * The node client `index` logs in to: pairs of neighbours take turns (0 0 1 1 0 0 1 1 with two
 * nodes), so client i's message to client i+1 stays on its node for even i and crosses for odd i;
 * with a multiple of 2 × nodes clients per ring, the last client's message to the first crosses too.
 */
export function clientNode(index: number, nodes: number): number {
  return Math.floor(index / 2) % nodes;
}

export interface TrafficPhases {
  warmupMs: number;
  measureMs: number;
  /** longest wait after sending stops for in-flight messages to arrive */
  drainMs: number;
}

export interface TrafficResult {
  /** messages received during the measured window */
  delivered: number;
  /** messages sent over the whole run */
  sent: number;
  /** messages sent during the measured window */
  sentInWindow: number;
  /** messages sent and not yet received at the start and at the end of the measured window */
  backlogAtStart: number;
  backlogAtEnd: number;
  /** error replies received instead of deliveries */
  errors: number;
  /** messages that arrived out of order or not from the expected peer */
  misordered: number;
  /** messages still in flight when the drain ended */
  lost: number;
  histogram: HistogramData;
  /** with several nodes: the latency of messages whose sender and receiver are on the same node, and on different ones */
  sameNodeHistogram?: HistogramData;
  crossNodeHistogram?: HistogramData;
  measuredMillis: number;
  /** this process's CPU during the measured window */
  cpuUserMicros: number;
  cpuSystemMicros: number;
}

const MESSAGE_END = '</message>';
/**
 * The pacer's finest tick. At 10,000 msg/s a tick per message (0.1 ms) cost the generator 59% of a
 * core against 34% at 0.25 ms, and the relay's p99 was 1.15 ms against 0.73–0.79.
 */
const FINEST_PACER_STEP_MS = 0.25;

export class MessagingTraffic {
  readonly #clients: BenchClient[];
  readonly #options: TrafficOptions;
  readonly #inFlight: Int32Array;
  readonly #nextSeq: Float64Array;
  readonly #expectedSeq: Float64Array;
  readonly #heads: string[];
  #histogram = new LatencyHistogram();
  #sameNode = new LatencyHistogram();
  #crossNode = new LatencyHistogram();
  /** per sender: whether its message to its peer crosses nodes */
  readonly #crosses: boolean[];
  #sending = false;
  #measuring = false;
  #sent = 0;
  #delivered = 0;
  #errors = 0;
  #misordered = 0;

  constructor(clients: BenchClient[], options: TrafficOptions) {
    if (clients.length < 2) throw new Error('messaging needs at least 2 clients per generator');
    this.#clients = clients;
    this.#options = options;
    this.#inFlight = new Int32Array(clients.length);
    this.#nextSeq = new Float64Array(clients.length);
    this.#expectedSeq = new Float64Array(clients.length);
    const nodes = options.nodes?.length ?? 1;
    this.#crosses = clients.map((_, index) => clientNode(index, nodes) !== clientNode(this.#peerOf(index), nodes));
    this.#heads = clients.map((_, index) => `<message type='chat' to='${clients[this.#peerOf(index)]!.fullJid}'><body>`);
    clients.forEach((client, index) => client.takeIncoming(this.#scanner(index)));
  }

  async run(phases: TrafficPhases): Promise<TrafficResult> {
    this.#sending = true;
    const rate = this.#options.ratePerSecond;
    const pacer = rate === undefined ? undefined : this.#startPacer(rate);
    if (rate === undefined) for (let index = 0; index < this.#clients.length; index++) this.#topUp(index);
    await this.#phase(phases.warmupMs);
    this.#measuring = true;
    const sentAtStart = this.#sent;
    const backlogAtStart = this.#totalInFlight();
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    await this.#phase(phases.measureMs);
    const cpu = process.cpuUsage(cpuStart);
    const measuredMillis = performance.now() - start;
    const sentInWindow = this.#sent - sentAtStart;
    const backlogAtEnd = this.#totalInFlight();
    this.#measuring = false;
    this.#sending = false;
    pacer?.stop();
    const drainEnd = performance.now() + phases.drainMs;
    while (this.#totalInFlight() > 0 && performance.now() < drainEnd) await this.#phase(20);
    return {
      delivered: this.#delivered,
      sent: this.#sent,
      sentInWindow,
      backlogAtStart,
      backlogAtEnd,
      errors: this.#errors,
      misordered: this.#misordered,
      lost: this.#totalInFlight(),
      histogram: this.#histogram.toJSON(),
      ...(this.#options.nodes && this.#options.nodes.length > 1 ? { sameNodeHistogram: this.#sameNode.toJSON(), crossNodeHistogram: this.#crossNode.toJSON() } : {}),
      measuredMillis,
      cpuUserMicros: cpu.user,
      cpuSystemMicros: cpu.system,
    };
  }

  /** Waits, failing as soon as a connection is lost. */
  async #phase(ms: number): Promise<void> {
    const end = performance.now() + ms;
    for (;;) {
      const broken = this.#clients.find((client) => client.closedBecause);
      if (broken) throw new Error(`${broken.fullJid}: ${broken.closedBecause!.message}`);
      const left = end - performance.now();
      if (left <= 0) return;
      await sleep(Math.min(left, 100));
    }
  }

  #peerOf(index: number): number {
    return (index + 1) % this.#clients.length;
  }

  #totalInFlight(): number {
    return this.#inFlight.reduce((sum, count) => sum + count, 0);
  }

  #topUp(sender: number): void {
    const { window, maxMessages } = this.#options;
    while (this.#sending && this.#inFlight[sender]! < window && this.#sent < maxMessages) this.#send(sender, performance.now());
    if (this.#sent >= maxMessages) this.#sending = false;
  }

  /** Sends, at each tick of the clock, the messages whose scheduled time has come, one client after the other. */
  #startPacer(ratePerSecond: number): PacerClock {
    const start = performance.now();
    const intervalMs = 1000 / ratePerSecond;
    let scheduled = 0;
    let sender = 0;
    return startPacerClock(Math.max(Math.min(intervalMs, 1), FINEST_PACER_STEP_MS), () => {
      const now = performance.now();
      while (this.#sending && this.#sent < this.#options.maxMessages) {
        const due = start + scheduled * intervalMs;
        if (due > now) return;
        this.#send(sender, due);
        scheduled++;
        sender = (sender + 1) % this.#clients.length;
      }
    });
  }

  #send(sender: number, stampMillis: number): void {
    const seq = this.#nextSeq[sender]!++;
    const stamp = `${sender}:${seq}:${stampMillis.toFixed(3)}:`;
    this.#clients[sender]!.queue(this.#heads[sender] + stamp.padEnd(this.#options.bodyBytes, 'x') + '</body></message>');
    this.#inFlight[sender]!++;
    this.#sent++;
  }

  /** Finds complete messages by their end tag; anything else (presence, IQs) is skipped. */
  #scanner(receiver: number): (text: string) => void {
    let pending = '';
    return (text) => {
      const buffer = pending === '' ? text : pending + text;
      let consumed = 0;
      for (;;) {
        const end = buffer.indexOf(MESSAGE_END, consumed);
        if (end < 0) break;
        this.#onMessage(receiver, buffer, buffer.lastIndexOf('<message', end), end);
        consumed = end + MESSAGE_END.length;
      }
      pending = consumed === 0 ? buffer : buffer.slice(consumed);
      if (pending.includes('<stream:error')) this.#clients[receiver]!.socket.destroy(new Error(`stream error: ${pending}`));
    };
  }

  #onMessage(receiver: number, buffer: string, start: number, end: number): void {
    const now = performance.now();
    const openTag = buffer.slice(start, buffer.indexOf('>', start));
    if (/type=["']error["']/.test(openTag)) {
      // The error reply comes back to the sender: its message will not arrive, so its window slot frees.
      this.#errors++;
      this.#settle(receiver);
      return;
    }
    const bodyTag = buffer.indexOf('<body>', start);
    const bodyStart = bodyTag + '<body>'.length;
    const first = buffer.indexOf(':', bodyStart);
    const second = buffer.indexOf(':', first + 1);
    const third = buffer.indexOf(':', second + 1);
    const sender = Number(buffer.slice(bodyStart, first));
    const seq = Number(buffer.slice(first + 1, second));
    const sentAt = Number(buffer.slice(second + 1, third));
    if (bodyTag < 0 || third < 0 || third > end || this.#peerOf(sender) !== receiver) {
      this.#misordered++;
      return;
    }
    if (seq !== this.#expectedSeq[receiver]) this.#misordered++;
    this.#expectedSeq[receiver] = seq + 1;
    if (this.#measuring) {
      this.#delivered++;
      this.#histogram.recordMillis(now - sentAt);
      (this.#crosses[sender] ? this.#crossNode : this.#sameNode).recordMillis(now - sentAt);
    }
    this.#settle(sender);
  }

  #settle(sender: number): void {
    this.#inFlight[sender]!--;
    if (this.#options.ratePerSecond === undefined) this.#topUp(sender);
  }
}
