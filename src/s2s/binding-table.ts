/**
 * The binding table (draft-ietf-xmpp-dna-01 section 4): for each pair (local domain, remote
 * domain), the ordered lists of connections that may carry it, one list per direction (the
 * draft's "sending direction", section 6 step 3). The send path takes the first connection of
 * the outbound list; the receive check accepts a stanza only on a connection of the inbound
 * list. Each binding also records how its pair was proven on that connection. Pure data:
 * connections are named by id.
 */
import type { Direction } from './connection-table.ts';

export interface Pair {
  readonly local: string;
  readonly remote: string;
}

/** A pair bound to a connection in one direction, with how it was proven there. */
export interface Binding<Proof> extends Pair {
  readonly direction: Direction;
  readonly proof: Proof;
}

interface Row {
  out: string[];
  in: string[];
}

/** One pair with its connections in list order, each with how the pair was proven there (for `trellis s2s`). */
export interface PairRow<Proof> extends Pair {
  readonly out: readonly { connection: string; proof: Proof }[];
  readonly in: readonly { connection: string; proof: Proof }[];
}

export class BindingTable<Proof> {
  /** by pair key, in the order the pairs were first bound (for `rows`) */
  readonly #rows = new Map<string, Row>();
  /** the same rows by local then remote domain: the send and receive paths look a pair up with no key built */
  readonly #byDomains = new Map<string, Map<string, Row>>();
  /** the pairs each connection is bound for, per direction, to unbind them when it closes */
  readonly #byConnection = new Map<string, Map<string, Binding<Proof>>>();

  /** Adds `connection` at the end of the pair's list for `direction`; a no-op when it is there. */
  bind(pair: Pair, direction: Direction, connection: string, proof: Proof): void {
    const key = pairKey(pair);
    let row = this.#rows.get(key);
    if (!row) {
      this.#rows.set(key, (row = { out: [], in: [] }));
      let byRemote = this.#byDomains.get(pair.local);
      if (!byRemote) this.#byDomains.set(pair.local, (byRemote = new Map()));
      byRemote.set(pair.remote, row);
    }
    const list = row[direction];
    if (list.includes(connection)) return;
    list.push(connection);
    let bound = this.#byConnection.get(connection);
    if (!bound) this.#byConnection.set(connection, (bound = new Map()));
    bound.set(`${direction} ${key}`, { local: pair.local, remote: pair.remote, direction, proof });
  }

  /** Removes `connection` from the pair's list for `direction`. */
  unbind(pair: Pair, direction: Direction, connection: string): void {
    const key = pairKey(pair);
    const row = this.#rows.get(key);
    if (!row) return;
    row[direction] = row[direction].filter((id) => id !== connection);
    if (row.out.length === 0 && row.in.length === 0) {
      this.#rows.delete(key);
      const byRemote = this.#byDomains.get(pair.local);
      byRemote?.delete(pair.remote);
      if (byRemote?.size === 0) this.#byDomains.delete(pair.local);
    }
    const bound = this.#byConnection.get(connection);
    bound?.delete(`${direction} ${key}`);
    if (bound?.size === 0) this.#byConnection.delete(connection);
  }

  /** Draft section 4: outbound stanzas for a pair go on the first connection of its list. */
  route(pair: Pair): string | undefined {
    return this.#row(pair)?.out[0];
  }

  /** Draft section 4: an inbound stanza for a pair is accepted only on a connection of its list. */
  accepts(pair: Pair, connection: string): boolean {
    return this.#row(pair)?.in.includes(connection) ?? false;
  }

  isBound(pair: Pair, direction: Direction, connection: string): boolean {
    return this.#row(pair)?.[direction].includes(connection) ?? false;
  }

  #row(pair: Pair): Row | undefined {
    return this.#byDomains.get(pair.local)?.get(pair.remote);
  }

  /** The pairs bound to a connection, in the order they were bound. */
  pairsOf(connection: string, direction?: Direction): Binding<Proof>[] {
    const pairs = [...(this.#byConnection.get(connection)?.values() ?? [])];
    return direction ? pairs.filter((pair) => pair.direction === direction) : pairs;
  }

  /** Every bound pair with its outbound and inbound lists, in the order the pairs were first bound. */
  rows(): PairRow<Proof>[] {
    return [...this.#rows].map(([key, row]) => {
      const [local, remote] = key.split(' ') as [string, string];
      const listed = (direction: Direction) =>
        row[direction].map((connection) => ({ connection, proof: this.#byConnection.get(connection)!.get(`${direction} ${key}`)!.proof }));
      return { local, remote, out: listed('out'), in: listed('in') };
    });
  }

  /** Draft section 4: a closed connection leaves every list; returns the pairs it carried. */
  removeConnection(connection: string): Binding<Proof>[] {
    const pairs = this.pairsOf(connection);
    for (const pair of pairs) this.unbind(pair, pair.direction, connection);
    return pairs;
  }
}

function pairKey(pair: Pair): string {
  return `${pair.local} ${pair.remote}`;
}
