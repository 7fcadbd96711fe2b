/**
 * Users chatting at a modest fixed rate, as the bystanders of a flood (bench/flood.ts): the
 * clients are paired (0 with 1, 2 with 3, …); every client sends a ping message to its partner
 * `perUserPerSecond` times a second, and the partner's client answers each with a message back
 * at once. The time from queueing the ping to reading the answer is one round trip through the
 * server (two messages, two deliveries), recorded in the histogram of the phase the ping was sent
 * in. Pings whose answer never came are counted as lost, per phase.
 *
 * Bodies: `q<phase>:<time>` for a ping and `r<phase>:<time>` for its answer, so no state is kept per
 * message. Sends are spread evenly: one every 1/(clients × rate) seconds, client after client.
 */
import { performance } from 'node:perf_hooks';
import type { BenchClient } from './bench-client.ts';
import { LatencyHistogram } from './histogram.ts';

const MESSAGE_END = '</message>';

export interface PhaseRoundTrips {
  sent: number;
  answered: number;
  errors: number;
  histogram: LatencyHistogram;
}

export class RoundTrips {
  readonly #clients: BenchClient[];
  readonly #phases: PhaseRoundTrips[] = [];
  #phase = -1;
  #pacer: NodeJS.Timeout | undefined;
  #misread = 0;

  constructor(clients: BenchClient[]) {
    if (clients.length % 2 !== 0) throw new Error('round trips need an even number of clients (pairs)');
    this.#clients = clients;
    clients.forEach((client, index) => client.takeIncoming(this.#scanner(index)));
  }

  /** Pings sent from now on count in a new phase; returns its index. */
  beginPhase(): number {
    this.#phases.push({ sent: 0, answered: 0, errors: 0, histogram: new LatencyHistogram() });
    return ++this.#phase;
  }

  phase(index: number): PhaseRoundTrips {
    return this.#phases[index]!;
  }

  /** messages whose body could not be read */
  get misread(): number {
    return this.#misread;
  }

  /** Pings still unanswered, over every phase. */
  get outstanding(): number {
    return this.#phases.reduce((sum, phase) => sum + phase.sent - phase.answered - phase.errors, 0);
  }

  /** The client that lost its connection first, if any. */
  broken(): BenchClient | undefined {
    return this.#clients.find((client) => client.closedBecause);
  }

  start(perUserPerSecond: number): void {
    if (this.#phase < 0) this.beginPhase();
    const intervalMs = 1000 / (perUserPerSecond * this.#clients.length);
    const start = performance.now();
    let scheduled = 0;
    let sender = 0;
    this.#pacer = setInterval(() => {
      const now = performance.now();
      while (start + scheduled * intervalMs <= now) {
        this.#send(sender, now);
        scheduled++;
        sender = (sender + 1) % this.#clients.length;
      }
    }, 2);
  }

  stop(): void {
    clearInterval(this.#pacer);
  }

  #partner(index: number): number {
    return index ^ 1;
  }

  #send(sender: number, now: number): void {
    const client = this.#clients[sender]!;
    if (client.closedBecause) return;
    const partner = this.#clients[this.#partner(sender)]!;
    client.queue(`<message to='${partner.fullJid}' type='chat'><body>q${this.#phase}:${now.toFixed(3)}</body></message>`);
    this.#phases[this.#phase]!.sent++;
  }

  /** Reads complete messages by their end tag; anything else (presence, IQs) is skipped. */
  #scanner(receiver: number): (text: string) => void {
    let pending = '';
    return (text) => {
      const buffer = pending === '' ? text : pending + text;
      let consumed = 0;
      for (;;) {
        const end = buffer.indexOf(MESSAGE_END, consumed);
        if (end < 0) break;
        this.#onMessage(receiver, buffer.slice(buffer.lastIndexOf('<message', end), end));
        consumed = end + MESSAGE_END.length;
      }
      pending = consumed === 0 ? buffer : buffer.slice(consumed);
      if (pending.includes('<stream:error')) this.#clients[receiver]!.socket.destroy(new Error(`stream error: ${pending.slice(0, 300)}`));
    };
  }

  #onMessage(receiver: number, message: string): void {
    const now = performance.now();
    const body = /<body>([qr])(\d+):([\d.]+)<\/body>/.exec(message);
    if (!body) {
      this.#misread++;
      return;
    }
    const phase = this.#phases[Number(body[2])];
    if (!phase) {
      this.#misread++;
      return;
    }
    const openTag = message.slice(0, message.indexOf('>'));
    if (/type=["']error["']/.test(openTag)) {
      phase.errors++;
      return;
    }
    if (body[1] === 'q') {
      const partner = this.#clients[this.#partner(receiver)]!;
      this.#clients[receiver]!.queue(`<message to='${partner.fullJid}' type='chat'><body>r${body[2]}:${body[3]}</body></message>`);
      return;
    }
    phase.answered++;
    phase.histogram.recordMillis(now - Number(body[3]));
  }
}
