/**
 * Memory held for peers that do not have their stanzas yet, counted against a budget per holder
 * (a client session, a server connection) and one for all holders of that kind together (RFC
 * 6120 section 13.12 on resource exhaustion). A stanza counts from the moment it is queued until
 * the peer has it: written to its socket, or acknowledged under stream management (XEP-0198). A
 * stanza that would go over either budget is not queued; its holder stores it elsewhere or
 * bounces it instead.
 */
export class OutputBudget {
  /** characters of XML all holders together may hold */
  readonly globalLimit: number;
  /** characters one holder may hold */
  readonly holderLimit: number;
  #used = 0;
  /** stanzas that did not fit and were stored elsewhere, bounced or dropped */
  overflows = 0;

  constructor(holderLimit: number, globalLimit: number) {
    this.holderLimit = holderLimit;
    this.globalLimit = globalLimit;
  }

  get used(): number {
    return this.#used;
  }

  /** Whether `size` more characters fit beside the `holderHolds` a holder already holds. */
  fits(holderHolds: number, size: number): boolean {
    return holderHolds + size <= this.holderLimit && this.#used + size <= this.globalLimit;
  }

  take(size: number): void {
    this.#used += size;
  }

  release(size: number): void {
    this.#used -= size;
  }
}
