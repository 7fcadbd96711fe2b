/**
 * Who wants which personal eventing notifications (XEP-0163 section 4.3 and 4.4): for each
 * account, the available resources that sent it presence (the account's own and its contacts')
 * with the features their entity capabilities name, `<node>+notify` among them (XEP-0060
 * section 9.2 filtered notifications). Bounded: resources per account and in all.
 */
export class NotifyInterests {
  readonly #maxPerAccount: number;
  readonly #maxTotal: number;
  /** account bare JID → full JID → features; accounts least recently changed first */
  readonly #byAccount = new Map<string, Map<string, ReadonlySet<string>>>();
  #total = 0;

  constructor(maxPerAccount: number, maxTotal: number) {
    this.#maxPerAccount = maxPerAccount;
    this.#maxTotal = maxTotal;
  }

  get size(): number {
    return this.#total;
  }

  /** Records a resource's features; returns false when it had the same ones already. */
  set(account: string, resource: string, features: ReadonlySet<string>): boolean {
    const before = this.#byAccount.get(account)?.get(resource);
    if (before !== undefined && sameSet(before, features)) return false;
    if (before === undefined) {
      // The oldest entry of the account, then of the least recently changed accounts, makes room.
      const existing = this.#byAccount.get(account);
      if (existing && existing.size >= this.#maxPerAccount) this.#removeOldest(account, existing);
      while (this.#total >= this.#maxTotal) this.#evictOldestAccount();
      this.#total++;
    }
    const resources = this.#byAccount.get(account) ?? new Map<string, ReadonlySet<string>>();
    this.#byAccount.delete(account);
    this.#byAccount.set(account, resources);
    resources.delete(resource);
    resources.set(resource, features);
    return true;
  }

  /** Whether a resource is recorded with these very features (`set` would change nothing). */
  has(account: string, resource: string, features: ReadonlySet<string>): boolean {
    const before = this.#byAccount.get(account)?.get(resource);
    return before !== undefined && (before === features || sameSet(before, features));
  }

  /** Forgets a resource; returns false when it was not known. */
  delete(account: string, resource: string): boolean {
    const resources = this.#byAccount.get(account);
    if (!resources?.delete(resource)) return false;
    this.#total--;
    if (resources.size === 0) this.#byAccount.delete(account);
    return true;
  }

  /** The resources of an account's presence audience asking for `node`'s notifications. */
  recipients(account: string, node: string): string[] {
    const wanted = `${node}+notify`;
    const found: string[] = [];
    for (const [resource, features] of this.#byAccount.get(account) ?? []) if (features.has(wanted)) found.push(resource);
    return found;
  }

  #removeOldest(account: string, resources: Map<string, ReadonlySet<string>>): void {
    const oldest = resources.keys().next().value;
    if (oldest !== undefined) this.delete(account, oldest);
  }

  #evictOldestAccount(): void {
    const [account, resources] = this.#byAccount.entries().next().value!;
    this.#removeOldest(account, resources);
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const value of a) if (!b.has(value)) return false;
  return true;
}
