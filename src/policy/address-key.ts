/**
 * The unit per-address limits and blocks count in. An IPv4 address is one key. An IPv6 address
 * is keyed by its /64: a /64 is the smallest network a subscriber or host is given (RFC 6177,
 * RFC 7421), and SLAAC and privacy addresses (RFC 8981) let one host pick any of its 2^64
 * addresses at will, so counting single IPv6 addresses would let one host open unlimited
 * connections. IPv4-mapped IPv6 (a dual-stack socket) counts as the IPv4 address it carries.
 */
import { formatIp, parseIpAddress } from '../util/ip-range.ts';

const LOW_64 = (1n << 64n) - 1n;

export function addressKey(text: string): string {
  const address = parseIpAddress(text);
  if (address === undefined) return text;
  if (address.family === 4) {
    const key = formatIp(address);
    // The socket's own string when it is the key already: an open connection keeps its key.
    return key === text ? text : key;
  }
  return `${formatIp({ family: 6, value: address.value & ~LOW_64 })}/64`;
}
