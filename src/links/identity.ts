/**
 * Who is at the other end of a link (XEP-0361 section 4.2): the address it connects from (or
 * the one we connected to), or its certificate, pinned or chained to the link's trust anchor.
 * The configuration ties the link's domains to that identity; nothing in the stream proves them.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { LinkConfig } from '../config/types.ts';
import { parseIpAddress, parseIpRange, rangeContains, type IpRange } from '../util/ip-range.ts';

export class LinkIdentity {
  readonly #config: LinkConfig;
  readonly #ranges: IpRange[];
  /** SHA-256 fingerprint of the pinned certificate */
  readonly #pinned: string | undefined;

  constructor(config: LinkConfig) {
    this.#config = config;
    this.#ranges = config.peer_addresses.map((entry) => parseIpRange(entry));
    const pinned = config.tls?.peer_certificate;
    this.#pinned = pinned === undefined ? undefined : new X509Certificate(readFileSync(pinned)).fingerprint256;
  }

  /** Why the peer on this socket is not the link's peer; undefined when it is. */
  refusal(socket: Socket, direction: 'in' | 'out'): string | undefined {
    if (this.#config.identity === 'certificate') return this.#certificateRefusal(socket as TLSSocket);
    // XEP-0361 section 4.2: "I knew where I connected" for an outgoing link, the source address for an incoming one.
    if (direction === 'out' || this.#ranges.length === 0) return undefined;
    const address = parseIpAddress(socket.remoteAddress ?? '');
    if (address !== undefined && this.#ranges.some((range) => rangeContains(range, address))) return undefined;
    return `${socket.remoteAddress} is not among the link's peer_addresses`;
  }

  #certificateRefusal(socket: TLSSocket): string | undefined {
    const certificate = socket.getPeerCertificate();
    if (certificate === null || Object.keys(certificate).length === 0) return 'the peer presented no certificate';
    if (this.#pinned !== undefined) {
      return certificate.fingerprint256 === this.#pinned ? undefined : `the peer's certificate (${certificate.fingerprint256}) is not the pinned one`;
    }
    // A trust anchor: the chain was checked against tls.ca_file during the handshake.
    return socket.authorized ? undefined : `the peer's certificate does not chain to tls.ca_file: ${String(socket.authorizationError)}`;
  }
}
