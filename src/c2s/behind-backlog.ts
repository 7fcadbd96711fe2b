/**
 * Messages for a session that came while its stored messages were being delivered, held in
 * arrival order to follow them (XEP-0160 section 2), within the output budget: the recipient is
 * available, so they are delivered (RFC 6121 section 8.5.2.1.1) rather than stored and subject
 * to the offline quota. client-session.ts decides when they go out, or to storage.
 */
import type { OutputBudget } from '../net/output-budget.ts';
import type { Element } from '../xml/element.ts';

export interface WaitingMessage {
  element: Element;
  /** its serialized form, counted against the budget while it waits */
  xml: string;
}

export class BehindBacklog {
  readonly #budget: OutputBudget;
  #waiting: WaitingMessage[] = [];
  #chars = 0;

  constructor(budget: OutputBudget) {
    this.#budget = budget;
  }

  /** Holds the message when the budget has room for it beside `queuedChars`; false when it has none. */
  hold(element: Element, xml: string, queuedChars: number): boolean {
    if (!this.#budget.fits(queuedChars + this.#chars, xml.length)) return false;
    this.#budget.take(xml.length);
    this.#chars += xml.length;
    this.#waiting.push({ element, xml });
    return true;
  }

  /** Everything held, oldest first, its budget given back. */
  drain(): WaitingMessage[] {
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#chars = 0;
    for (const { xml } of waiting) this.#budget.release(xml.length);
    return waiting;
  }
}
