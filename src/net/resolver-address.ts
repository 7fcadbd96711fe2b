/** The address of a DNS resolver as written in the configuration. */
import { isIP } from 'node:net';

export interface ResolverAddress {
  address: string;
  port: number;
}

/** "ip", "ip:port" or "[ipv6]:port"; port 53 by default. Throws on anything else. */
export function parseResolverAddress(text: string): ResolverAddress {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return checked(bracketed[1]!, bracketed[2], text);
  if (isIP(text) !== 0) return { address: text, port: 53 };
  const withPort = /^([^:]+):(\d+)$/.exec(text);
  if (withPort) return checked(withPort[1]!, withPort[2], text);
  throw new Error(`${JSON.stringify(text)} is not an IP address, ip:port or [ipv6]:port`);
}

function checked(address: string, port: string | undefined, text: string): ResolverAddress {
  const number = port === undefined ? 53 : Number(port);
  if (isIP(address) === 0 || !Number.isInteger(number) || number < 1 || number > 65535) {
    throw new Error(`${JSON.stringify(text)} is not an IP address, ip:port or [ipv6]:port`);
  }
  return { address, port: number };
}
