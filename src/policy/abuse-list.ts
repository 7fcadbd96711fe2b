/**
 * The operator's run-time abuse controls as data: banned client or server addresses (single
 * addresses or CIDR ranges) and blocked remote domains. `trellis ban` and `trellis s2s block`
 * change them through the admin API; src/limits keeps them in storage. Checks are pure and
 * name where the decision came from, like the verdicts of src/policy/peer-access.ts.
 */
import { formatIp, parseIpAddress, parseIpRange, rangeContains, type IpRange } from '../util/ip-range.ts';

export interface AddressBan {
  /** the canonical form: an address, or network/prefix */
  address: string;
  reason: string | undefined;
  /** ms since the epoch */
  createdAt: number;
}

export interface DomainBlock {
  domain: string;
  reason: string | undefined;
  createdAt: number;
}

/**
 * "192.0.2.7", "2001:db8::/32", "::ffff:192.0.2.0/120" written the way the list shows them: a
 * single address without prefix, a range as network/prefix, IPv4-mapped ranges as IPv4.
 * Throws with the reason when the text is not an address or range.
 */
export function canonicalBan(text: string): string {
  const range = parseIpRange(text.trim());
  const bits = range.family === 4 ? 32 : 128;
  const size = range.last - range.first + 1n;
  const prefix = bits - (size.toString(2).length - 1);
  const network = formatIp({ family: range.family, value: range.first });
  return prefix === bits ? network : `${network}/${prefix}`;
}

export class AbuseList {
  readonly #bans = new Map<string, { ban: AddressBan; range: IpRange }>();
  readonly #blocks = new Map<string, DomainBlock>();

  addBan(ban: AddressBan): void {
    this.#bans.set(ban.address, { ban, range: parseIpRange(ban.address) });
  }

  removeBan(address: string): boolean {
    return this.#bans.delete(address);
  }

  addBlock(block: DomainBlock): void {
    this.#blocks.set(block.domain, block);
  }

  removeBlock(domain: string): boolean {
    return this.#blocks.delete(domain);
  }

  get bans(): AddressBan[] {
    return [...this.#bans.values()].map((entry) => entry.ban).sort((a, b) => a.createdAt - b.createdAt);
  }

  get blocks(): DomainBlock[] {
    return [...this.#blocks.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  /** The ban covering an address, if any. */
  banFor(text: string): AddressBan | undefined {
    if (this.#bans.size === 0) return undefined;
    const address = parseIpAddress(text);
    if (address === undefined) return undefined;
    for (const { ban, range } of this.#bans.values()) if (rangeContains(range, address)) return ban;
    return undefined;
  }

  /** Whether a ban's range contains the address (whatever other bans cover it too). */
  static covers(ban: AddressBan, text: string): boolean {
    const address = parseIpAddress(text);
    return address !== undefined && rangeContains(parseIpRange(ban.address), address);
  }

  /** The block of a remote domain (exact, case-insensitive), if any. */
  blockFor(domain: string): DomainBlock | undefined {
    return this.#blocks.size === 0 ? undefined : this.#blocks.get(domain.toLowerCase());
  }
}

/** What a refusal says about a ban: where it came from and since when. */
export function describeBan(ban: AddressBan): string {
  return `address ${ban.address} banned by trellis ban at ${new Date(ban.createdAt).toISOString()}${ban.reason ? ` (${ban.reason})` : ''}`;
}

export function describeBlock(block: DomainBlock): string {
  return `${block.domain} blocked by trellis s2s block at ${new Date(block.createdAt).toISOString()}${block.reason ? ` (${block.reason})` : ''}`;
}
