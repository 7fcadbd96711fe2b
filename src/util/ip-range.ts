/**
 * IP addresses and CIDR ranges as integers, for the peer address lists. IPv4 (RFC 791 dotted
 * quad) and IPv6 (RFC 4291 section 2.2 text forms, including "::" and a trailing dotted quad).
 * An IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2, ::ffff:a.b.c.d) is the IPv4 address
 * it carries, so IPv4 rules cover peers seen through a dual-stack socket.
 */

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  value: bigint;
}

export interface IpRange {
  family: IpFamily;
  first: bigint;
  last: bigint;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };
/** ::ffff:0:0/96, the IPv4-mapped prefix */
const MAPPED_PREFIX = 0xffffn << 32n;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // Leading zeros are refused: some parsers read them as octal.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): bigint[] | undefined => {
    if (half === '') return [];
    const groups: bigint[] = [];
    const parts = half.split(':');
    for (const [index, part] of parts.entries()) {
      if (index === parts.length - 1 && part.includes('.')) {
        const ipv4 = parseIpv4(part);
        if (ipv4 === undefined) return undefined;
        groups.push(ipv4 >> 16n, ipv4 & 0xffffn);
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
        groups.push(BigInt(`0x${part}`));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  // A dotted quad may only end the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return undefined;
  const written = head.length + tail.length;
  // "::" stands for one or more zero groups; without it all eight are written.
  if (halves.length === 2 ? written > 7 : written !== 8) return undefined;
  const groups = [...head, ...Array<bigint>(8 - written).fill(0n), ...tail];
  return groups.reduce((value, group) => (value << 16n) | group, 0n);
}

/** Parses an address; IPv4-mapped IPv6 becomes IPv4. A zone ("%eth0") is ignored. */
export function parseIpAddress(text: string): IpAddress | undefined {
  const ipv4 = parseIpv4(text);
  if (ipv4 !== undefined) return { family: 4, value: ipv4 };
  const ipv6 = parseIpv6(text.replace(/%[^%]+$/, ''));
  if (ipv6 === undefined) return undefined;
  if (ipv6 >> 32n === 0xffffn) return { family: 4, value: ipv6 & 0xffffffffn };
  return { family: 6, value: ipv6 };
}

/**
 * Parses "address" or "address/prefix" into a range; throws with the reason when it is not
 * one. Bits set beyond the prefix are refused (10.1.0.0/8 is most likely a typo). A range
 * inside ::ffff:0:0/96 is the matching IPv4 range.
 */
export function parseIpRange(text: string): IpRange {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  if (addressText.includes('%')) throw new Error('a zone index (%) is not allowed in a rule');
  const written = parseIpv4(addressText) !== undefined ? 4 : parseIpv6(addressText) !== undefined ? 6 : undefined;
  if (written === undefined) throw new Error('expected an IPv4 or IPv6 address, optionally followed by /prefix');
  const raw = written === 4 ? parseIpv4(addressText)! : parseIpv6(addressText)!;
  const bits = BITS[written];
  let prefix = bits;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
      throw new Error(`the prefix length must be a number from 0 to ${bits} for IPv${written}`);
    }
    prefix = Number(prefixText);
  }
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((raw & hostMask) !== 0n) {
    const network = raw & ~hostMask;
    throw new Error(`bits are set beyond the /${prefix} prefix; the range is ${formatIp({ family: written, value: network })}/${prefix}`);
  }
  if (written === 6 && prefix >= 96 && raw >> 32n === MAPPED_PREFIX >> 32n) {
    const value = raw & 0xffffffffn;
    return { family: 4, first: value, last: value | hostMask };
  }
  return { family: written, first: raw, last: raw | hostMask };
}

export function rangeContains(range: IpRange, address: IpAddress): boolean {
  return range.family === address.family && address.value >= range.first && address.value <= range.last;
}

/** Dotted quad, or the RFC 5952 text form (lower case, the longest run of zero groups as "::"). */
export function formatIp(address: IpAddress): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, index) => Number((address.value >> BigInt(112 - 16 * index)) & 0xffffn));
  let best = { start: -1, length: 1 };
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > best.length) best = { start, length };
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.start === -1) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/** An address only this machine can reach (127.0.0.0/8, ::1, or an IPv4-mapped 127.x address). */
export function isLoopbackAddress(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.toLowerCase().startsWith('::ffff:127.');
}
