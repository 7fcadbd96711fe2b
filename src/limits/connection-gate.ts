/**
 * Admission of new connections: open connections per remote address (IPv4 address or IPv6 /64,
 * src/policy/address-key.ts), client and server connections counted apart, and client
 * connections that have not authenticated yet, all addresses together. The maps only hold
 * addresses with open connections, so their size is bounded by the open connections.
 */
import type { LimitsConfig } from '../config/types.ts';
import { addressKey } from '../policy/address-key.ts';

export type ListenerKind = 'c2s' | 's2s' | 'component';

export interface GateRefusal {
  /** the metrics label */
  reason: 'per_address' | 'unauthenticated';
  /** what the stream error says */
  text: string;
  key: string;
}

/** One admitted connection; released exactly once when it closes. */
export interface Ticket {
  readonly key: string;
  /** the connection authenticated: it no longer counts as unauthenticated */
  authenticated(): void;
  release(): void;
}

export class ConnectionGate {
  readonly #config: () => LimitsConfig;
  readonly #open: Record<ListenerKind, Map<string, number>> = { c2s: new Map(), s2s: new Map(), component: new Map() };
  #unauthenticated = 0;
  /** handed to every ticket: one closure for the gate, not one per connection */
  readonly #authenticating = (): void => {
    this.#unauthenticated--;
  };

  constructor(config: () => LimitsConfig) {
    this.#config = config;
  }

  get unauthenticated(): number {
    return this.#unauthenticated;
  }

  openFrom(kind: ListenerKind, address: string): number {
    return this.#open[kind].get(addressKey(address)) ?? 0;
  }

  admit(kind: ListenerKind, address: string): Ticket | GateRefusal {
    const config = this.#config();
    const key = addressKey(address);
    const open = this.#open[kind];
    const count = open.get(key) ?? 0;
    const perAddress = perAddressLimit(config, kind);
    if (perAddress > 0 && count >= perAddress) {
      return { reason: 'per_address', key, text: `too many connections from ${key} (limits.${kind}_per_address: ${perAddress})` };
    }
    const countsUnauthenticated = kind === 'c2s';
    if (countsUnauthenticated && config.c2s_unauthenticated > 0 && this.#unauthenticated >= config.c2s_unauthenticated) {
      return { reason: 'unauthenticated', key, text: `too many connections are authenticating (limits.c2s_unauthenticated: ${config.c2s_unauthenticated}); try again later` };
    }
    open.set(key, count + 1);
    if (countsUnauthenticated) this.#unauthenticated++;
    return new AdmittedConnection(key, open, countsUnauthenticated, this.#authenticating);
  }
}

/** A Ticket as a class: one object per open connection, with no closures of its own. */
class AdmittedConnection implements Ticket {
  readonly key: string;
  readonly #open: Map<string, number>;
  /** lowers the gate's count of unauthenticated connections (shared by every ticket of the gate's kind) */
  readonly #authenticating: () => void;
  #unauthenticated: boolean;
  #released = false;

  constructor(key: string, open: Map<string, number>, unauthenticated: boolean, authenticating: () => void) {
    this.key = key;
    this.#open = open;
    this.#unauthenticated = unauthenticated;
    this.#authenticating = authenticating;
  }

  authenticated(): void {
    if (!this.#unauthenticated || this.#released) return;
    this.#unauthenticated = false;
    this.#authenticating();
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#unauthenticated) this.#authenticating();
    const left = (this.#open.get(this.key) ?? 1) - 1;
    if (left > 0) this.#open.set(this.key, left);
    else this.#open.delete(this.key);
  }
}

/** The open connections one address may have on a kind of listener (0: no limit). */
export function perAddressLimit(config: LimitsConfig, kind: ListenerKind): number {
  return config[`${kind}_per_address`];
}

export function isRefusal(result: Ticket | GateRefusal): result is GateRefusal {
  return 'reason' in result;
}
