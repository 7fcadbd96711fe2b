/**
 * Memory held for clients, counted against a budget per session and one for the whole process
 * (RFC 6120 section 13.12 on resource exhaustion). A stanza counts from the moment it is queued
 * for a client until the client has it: written to its socket, or acknowledged under stream
 * management (XEP-0198). A stanza that would go over either budget is not queued; the session
 * hands it to offline storage or bounces it instead.
 */
export class OutputBudget {
  /** characters of XML the process may hold for all clients together */
  readonly globalLimit: number;
  /** characters one session may hold */
  readonly sessionLimit: number;
  #used = 0;
  /** stanzas that did not fit and went to offline storage, or were bounced or dropped */
  overflows = 0;

  constructor(sessionLimit: number, globalLimit: number) {
    this.sessionLimit = sessionLimit;
    this.globalLimit = globalLimit;
  }

  get used(): number {
    return this.#used;
  }

  /** Whether `size` more characters fit beside the `sessionHolds` a session already holds. */
  fits(sessionHolds: number, size: number): boolean {
    return sessionHolds + size <= this.sessionLimit && this.#used + size <= this.globalLimit;
  }

  take(size: number): void {
    this.#used += size;
  }

  release(size: number): void {
    this.#used -= size;
  }
}
