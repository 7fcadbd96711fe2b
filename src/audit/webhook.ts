/**
 * Alerts POSTed as JSON to the operator's webhook (`s2s.peering_audit.webhook`), one call at a
 * time in the order raised, each with a timeout. Calls wait in a bounded queue; an alert that
 * does not fit, or a call that fails, is counted and logged, never retried, so that a webhook
 * that is down costs the server nothing but the count.
 */
import type { Logger } from '../util/log.ts';

/** Alerts waiting for the webhook; past this they are counted as failures. */
const MAX_QUEUED = 1000;

export class WebhookSender {
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #queue: unknown[] = [];
  #running: Promise<void> | undefined;
  failures = 0;

  constructor(url: string, timeoutMs: number, logger: Logger) {
    this.#url = url;
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
  }

  send(body: unknown): void {
    if (this.#queue.length >= MAX_QUEUED) {
      this.failures++;
      return;
    }
    this.#queue.push(body);
    this.#running ??= this.#drain();
  }

  /** Waits until every queued alert has been sent or has failed. */
  async close(): Promise<void> {
    await this.#running;
  }

  async #drain(): Promise<void> {
    for (let body = this.#queue.shift(); body !== undefined; body = this.#queue.shift()) {
      try {
        const response = await fetch(this.#url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(this.#timeoutMs) });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
      } catch (error) {
        this.failures++;
        this.#logger.warn('policy alert webhook failed', { url: this.#url, error: (error as Error).message });
      }
    }
    this.#running = undefined;
  }
}
