/**
 * The console's live updates as server-sent events (HTML Living Standard, "Server-sent events"):
 * the federation map and the server's counts, sent when they change, checked every
 * `INTERVAL_MS`; a comment line keeps proxies from closing a quiet stream. A stream ends when its
 * login does (expiry, logout), and at most `max_event_streams` are open at once.
 */
import type { ServerResponse } from 'node:http';

export const INTERVAL_MS = 1000;
const KEEPALIVE_MS = 15_000;

export interface EventSource {
  /** each event's name and data, made afresh at each check */
  snapshot(): { event: string; data: unknown }[];
  /** false once the login the stream belongs to has ended */
  alive(): boolean;
  /** a snapshot that failed: the stream ends, the server goes on */
  failed(error: unknown): void;
}

export class EventStreams {
  readonly #max: () => number;
  readonly #streams = new Set<() => void>();

  constructor(max: () => number) {
    this.#max = max;
  }

  /** Starts a stream on `response`; false when the limit is reached (the caller answers 503). */
  open(response: ServerResponse, source: EventSource): boolean {
    if (this.#streams.size >= this.#max()) return false;
    response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'X-Accel-Buffering': 'no' });
    const sent = new Map<string, string>();
    let quietSince = Date.now();
    const check = (): void => {
      if (!source.alive()) return stop();
      let events: { event: string; data: unknown }[];
      try {
        events = source.snapshot();
      } catch (error) {
        source.failed(error);
        return stop();
      }
      for (const { event, data } of events) {
        const text = JSON.stringify(data);
        if (sent.get(event) === text) continue;
        sent.set(event, text);
        response.write(`event: ${event}\ndata: ${text}\n\n`);
        quietSince = Date.now();
      }
      if (Date.now() - quietSince >= KEEPALIVE_MS) {
        response.write(': keepalive\n\n');
        quietSince = Date.now();
      }
    };
    const timer = setInterval(check, INTERVAL_MS);
    const stop = (): void => {
      clearInterval(timer);
      this.#streams.delete(stop);
      response.end();
    };
    this.#streams.add(stop);
    response.once('close', stop);
    check();
    return true;
  }

  get size(): number {
    return this.#streams.size;
  }

  closeAll(): void {
    for (const stop of [...this.#streams]) stop();
  }
}
