/**
 * Channel bindings of a TLS connection for the SCRAM -PLUS mechanisms (RFC 5802 section 6):
 * `tls-exporter` (RFC 9266, defined for TLS 1.3 only), `tls-server-end-point` (RFC 5929
 * section 4, the hash of the server's certificate) and `tls-unique` (RFC 5929 section 3, TLS 1.2
 * and older). Their names are what XEP-0440 advertises.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point' | 'tls-unique';

/** What one connection can bind to: the types it advertises, and the data of each type it accepts. */
export interface ChannelBindings {
  readonly types: readonly ChannelBindingType[];
  /** undefined for a type this connection cannot bind to */
  data(type: string): Buffer | undefined;
}

/** RFC 9266 section 2: label "EXPORTER-Channel-Binding", no context, 32 bytes. */
const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
const EXPORTER_BYTES = 32;
/** In TLS 1.3 an empty context and none are the same (RFC 8446 section 7.5). */
const NO_CONTEXT = Buffer.alloc(0);

/** The bindings of the server end of a TLS connection; none when the handshake is not done. */
export function serverChannelBindings(socket: TLSSocket): ChannelBindings {
  const found = new Map<ChannelBindingType, () => Buffer | undefined>();
  const unadvertised = new Map<ChannelBindingType, () => Buffer | undefined>();
  // RFC 5929 section 3.1: tls-unique is the first Finished message of the latest handshake: the
  // client's in a full handshake, ours in a resumed one. RFC 9266 leaves it undefined for
  // TLS 1.3, where it is not advertised; COMPAT(slixmpp): slixmpp binds with nothing else and
  // computes the same value, so it is still accepted there.
  const unique = () => (socket.isSessionReused() ? socket.getFinished() : socket.getPeerFinished()) ?? Buffer.alloc(0);
  (socket.getProtocol() === 'TLSv1.3' ? unadvertised : found).set('tls-unique', unique);
  // RFC 9266 section 3: tls-exporter is only defined for TLS 1.3 (or 1.2 with extended master secret, which Node cannot tell).
  if (socket.getProtocol() === 'TLSv1.3') found.set('tls-exporter', () => socket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, NO_CONTEXT));
  // A server end of TLS here always presents a certificate (there are no PSK or anonymous
  // suites), so the type is offered; its hash is worked out when a client binds to it, which
  // spares the other logins a parse of the certificate.
  found.set('tls-server-end-point', () => ownEndPoint(socket));
  return bindingsFrom(found, unadvertised);
}

/** tls-server-end-point of our certificates by their SHA-256 fingerprint: a server has a few, and every login over TLS asks. */
const endPoints = new Map<string, Buffer | undefined>();
const MAX_END_POINTS = 64;

/** The end-point hash of the certificate we presented on `socket`, worked out once per certificate. */
function ownEndPoint(socket: TLSSocket): Buffer | undefined {
  const certificate = socket.getX509Certificate();
  if (certificate === undefined) return undefined;
  const fingerprint = certificate.fingerprint256;
  if (endPoints.has(fingerprint)) return endPoints.get(fingerprint);
  // Certificates replaced by reloads leave theirs behind: the cache starts again rather than grow.
  if (endPoints.size >= MAX_END_POINTS) endPoints.clear();
  const endPoint = serverEndPointHash(certificate.raw);
  endPoints.set(fingerprint, endPoint);
  return endPoint;
}

/** The client end: the same values computed from the peer's side (for the SCRAM client and tests). */
export function clientChannelBindings(socket: TLSSocket): ChannelBindings {
  const found = new Map<ChannelBindingType, () => Buffer>();
  if (socket.getProtocol() === 'TLSv1.3') found.set('tls-exporter', () => socket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, NO_CONTEXT));
  const raw = socket.getPeerCertificate().raw as Buffer | undefined;
  const endPoint = raw ? serverEndPointHash(raw) : undefined;
  if (endPoint) found.set('tls-server-end-point', () => endPoint);
  return bindingsFrom(found);
}

function bindingsFrom(found: Map<ChannelBindingType, () => Buffer | undefined>, unadvertised = new Map<ChannelBindingType, () => Buffer | undefined>()): ChannelBindings {
  return {
    types: [...found.keys()],
    data(type) {
      const make = found.get(type as ChannelBindingType) ?? unadvertised.get(type as ChannelBindingType);
      return make?.();
    },
  };
}

/**
 * RFC 5929 section 4.1: the certificate hashed with its signature's hash function, SHA-256 when
 * that is MD5 or SHA-1. A signature with no single hash (Ed25519, RSASSA-PSS) has no defined
 * value, so the type is not offered.
 */
export function serverEndPointHash(raw: Buffer): Buffer | undefined {
  const hash = endPointHashOf(new X509Certificate(raw).signatureAlgorithm ?? '');
  return hash === undefined ? undefined : createHash(hash).update(raw).digest();
}

/** The hash tls-server-end-point uses for a certificate signed with `signatureAlgorithm` (OpenSSL's name). */
export function endPointHashOf(signatureAlgorithm: string): string | undefined {
  const named = /(md5|sha-?(?:1|224|256|384|512))(?!\d)/.exec(signatureAlgorithm.toLowerCase())?.[1]?.replace('-', '');
  if (named === undefined) return undefined;
  return named === 'md5' || named === 'sha1' ? 'sha256' : named;
}
