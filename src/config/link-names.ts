/**
 * How links (`links`, docs/links.md) are named and addressed in the configuration: a name is
 * what peering rules write after `link:`, an address is where the link connects or listens.
 */
import { isIP } from 'node:net';
import { prepareDomain } from '../jid/jid.ts';

const LINK_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A link name: lower-case letters, digits, "-" and "_", at most 64; throws with the reason otherwise. */
export function prepareLinkName(name: string): string {
  if (!LINK_NAME.test(name)) throw new Error('a link name is 1 to 64 lower-case letters, digits, "-" or "_", starting with a letter or digit');
  return name;
}

/** "host:port" or "[ipv6]:port", port 0 to 65535 (0: a listener picks one); throws with the reason otherwise. */
export function parseLinkAddress(text: string): { host: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!match) throw new Error(`${JSON.stringify(text)} is not "host:port" or "[ipv6]:port"`);
  const host = match[1]!;
  const port = Number(match[2]);
  if (port > 65535) throw new Error(`the port of ${JSON.stringify(text)} must be from 0 to 65535`);
  if (text.startsWith('[') && isIP(host) !== 6) throw new Error(`${JSON.stringify(host)} in brackets must be an IPv6 address`);
  return { host: isIP(host) === 0 ? prepareDomain(host) : host, port };
}
