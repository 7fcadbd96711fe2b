/**
 * The connection table (draft-ietf-xmpp-dna-01 section 4): what the peer has proved on each
 * server connection. A connection is named by its id; its row holds the names the peer's
 * certificate proves, the domains it has proved otherwise (by dialback today; by delegation
 * later), and whether it carries traffic both ways (XEP-0288). Both directions use one table:
 * the direction only says who opened the connection.
 */

export type Direction = 'in' | 'out';

export interface ConnectionRow {
  readonly id: string;
  /** 'out': we opened it; 'in': the peer did */
  readonly direction: Direction;
  /** names the peer's certificate was found valid for (RFC 6125 section 6, chain trusted) */
  readonly serverNames: Set<string>;
  /** domains the peer proved on this connection without its certificate naming them */
  readonly delegatedNames: Set<string>;
  /** XEP-0288: both sides may send on it */
  bidi: boolean;
  /** the stream is between the two hosts' names (draft section 5), proved by both certificates */
  hostNamed: boolean;
}

export class ConnectionTable {
  readonly #rows = new Map<string, ConnectionRow>();

  add(id: string, direction: Direction): ConnectionRow {
    const row: ConnectionRow = { id, direction, serverNames: new Set(), delegatedNames: new Set(), bidi: false, hostNamed: false };
    this.#rows.set(id, row);
    return row;
  }

  get(id: string): ConnectionRow | undefined {
    return this.#rows.get(id);
  }

  /** The certificate the peer presented on `id` proves `name`. */
  certified(id: string, name: string): void {
    this.#rows.get(id)?.serverNames.add(name);
  }

  /** The peer proved `name` on `id` by other means than its certificate (dialback). */
  proved(id: string, name: string): void {
    const row = this.#rows.get(id);
    if (row && !row.serverNames.has(name)) row.delegatedNames.add(name);
  }

  /** Whether the peer has proved `name` on `id`, by any means. */
  proves(id: string, name: string): boolean {
    const row = this.#rows.get(id);
    return row !== undefined && (row.serverNames.has(name) || row.delegatedNames.has(name));
  }

  /** The connection is gone (draft section 4: its entry is deleted). */
  delete(id: string): void {
    this.#rows.delete(id);
  }
}
