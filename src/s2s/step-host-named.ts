/**
 * Host-named streams (draft-ietf-xmpp-dna-01 section 5; docs/protocols/host-named-streams.md):
 * after TLS the stream is between the two hosts' own names, each proved by the host's
 * certificate in mutual TLS, and every domain pair is authorized on it one by one. The draft
 * left the signal open (its TODO in section 5); ours goes on the standard stream, before TLS:
 *
 *   I: <stream:stream from='a.example' to='b.example' …>              (a standard header)
 *   R: <stream:features><host-named xmlns='urn:xmpp:trellis:s2s:0' name='xmpp.b.example'/>
 *        <starttls …><required/></starttls></stream:features>
 *   I: <host-named xmlns='urn:xmpp:trellis:s2s:0' name='xmpp.a.example'/>
 *   I: <starttls/>   (SNI xmpp.b.example; each side presents its host's certificate)
 *   I: <stream:stream from='xmpp.a.example' to='xmpp.b.example' …>
 *   R: <stream:features><host-named xmlns='urn:xmpp:trellis:s2s:0'/>…</stream:features>
 *
 * A peer that does not offer it never sees a host name. The memory of peers that refused is
 * here too (HostNamedRefusals): the next connection to them is a standard one at once.
 */
import { prepareDomain } from '../jid/jid.ts';
import type { StreamErrorCondition } from '../net/stream-errors.ts';
import { newStreamId } from '../net/xml-stream.ts';
import type { Logger } from '../util/log.ts';
import { Element } from '../xml/element.ts';
import { NS_TLS } from '../xml/namespaces.ts';
import type { S2sContext } from './context.ts';
import type { Role, Step, StepResult } from './negotiation.ts';
import { NS_TRELLIS_S2S } from './pair-authorization.ts';
import type { CertificateVerdict } from './peer-certificate.ts';
import type { PeerWarnings } from './peer-warnings.ts';

/** What the step uses of its connection. */
export interface HostNamedHost extends PeerWarnings {
  readonly role: Role;
  readonly context: S2sContext;
  readonly logger: Logger;
  readonly secure: boolean;
  /** established: the stream is named after the two hosts */
  readonly hostNamed: boolean;
  /** initiator: this connection may try host names (not one opened for a domain's own certificate, no refusal on record) */
  readonly mayUseHostNames: boolean;
  write(element: Element): void;
  /** initiator: from TLS on, SNI names `peerHost`, we present our host's certificate, and the new header names both hosts */
  useHostNames(peerHost: string): void;
  /** receiver: the peer asked for a host-named stream for its host `peerHost` */
  hostNamesRequested(peerHost: string): void;
}

export function hostNamedStep(host: HostNamedHost): Step {
  let requested = false;
  return {
    name: 'host-named',
    claims: (element) => element.xmlns === NS_TRELLIS_S2S && element.name === 'host-named',

    // Before TLS the offer with our host's name; after it, on a host-named stream, the confirmation.
    offer(features) {
      const ours = host.context.hostName;
      if (ours === undefined) return false;
      if (!host.secure && !requested) features.c('host-named', { name: ours }, NS_TRELLIS_S2S);
      else if (host.hostNamed) features.c('host-named', {}, NS_TRELLIS_S2S);
      return false;
    },

    begin(features) {
      const ours = host.context.hostName;
      if (host.secure || ours === undefined || !host.mayUseHostNames || !features?.getChild('starttls', NS_TLS)) return 'done';
      const peerHost = domainOrUndefined(features.getChild('host-named', NS_TRELLIS_S2S)?.attrs.name);
      if (peerHost === undefined) return 'done';
      host.write(new Element('host-named', NS_TRELLIS_S2S, { name: ours }));
      host.useHostNames(peerHost);
      return 'done';
    },

    handle(element): StepResult {
      const peerHost = domainOrUndefined(element.attrs.name);
      if (host.role !== 'receiver' || host.secure || requested || host.context.hostName === undefined || peerHost === undefined) {
        // Not a stream error: the request is simply not taken, and the stream stays a standard one.
        host.warnOfPeer('s2s host-named request ignored', { name: element.attrs.name, secure: host.secure, offered: host.context.hostName !== undefined });
        return 'done';
      }
      requested = true;
      host.hostNamesRequested(peerHost);
      return 'done';
    },
  };
}

export type HostNamedHeader = { local: string; remote: string; id: string } | { condition: StreamErrorCondition; text: string };

/**
 * Receiver: the header after TLS on a connection whose peer asked for host names. It must name
 * our host in `to` and the peer's host in `from`, and the peer's certificate must prove that
 * name (the draft's section 5: otherwise the connection fails).
 */
export function hostNamedHeader(root: Element, ours: string, peerHost: string, certificate: (name: string) => CertificateVerdict): HostNamedHeader {
  const to = domainOrUndefined(root.attrs.to);
  const from = domainOrUndefined(root.attrs.from);
  if (to !== ours) return { condition: 'host-unknown', text: `a host-named stream is to this host, ${ours}` };
  if (from !== peerHost) return { condition: 'invalid-from', text: `a host-named stream is from the host named before TLS, ${peerHost}` };
  const verdict = certificate(peerHost);
  if (verdict.status !== 'valid') return { condition: 'not-authorized', text: `the certificate does not prove ${peerHost}: ${verdict.reason ?? verdict.status}` };
  return { local: ours, remote: peerHost, id: newStreamId() };
}

function domainOrUndefined(domain: string | undefined): string | undefined {
  try {
    return domain !== undefined && domain !== '' ? prepareDomain(domain) : undefined;
  } catch {
    return undefined;
  }
}

/** How long a hop that refused a host-named stream gets standard streams only. */
export const REFUSAL_MEMORY_MS = 3600 * 1000;
/** Hops remembered at once; the oldest goes first. */
export const MAX_REMEMBERED_REFUSALS = 10_000;

/**
 * Peers (by next hop, host and port) that refused a host-named stream or failed it: their
 * connections are standard ones for an hour, and each is logged once, not once per attempt.
 */
export class HostNamedRefusals {
  readonly #until = new Map<string, number>();
  readonly #logged = new Set<string>();
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(logger: Logger, now: () => number = Date.now) {
    this.#logger = logger;
    this.#now = now;
  }

  /** Whether a connection to `hop` may try host names. */
  allows(hop: string): boolean {
    const until = this.#until.get(hop);
    if (until === undefined) return true;
    if (until > this.#now()) return false;
    this.#until.delete(hop);
    return true;
  }

  refused(hop: string, reason: string): void {
    this.#until.delete(hop);
    if (this.#until.size >= MAX_REMEMBERED_REFUSALS) this.#until.delete(this.#until.keys().next().value!);
    this.#until.set(hop, this.#now() + REFUSAL_MEMORY_MS);
    if (this.#logged.has(hop)) return;
    if (this.#logged.size >= MAX_REMEMBERED_REFUSALS) this.#logged.delete(this.#logged.values().next().value!);
    this.#logged.add(hop);
    this.#logger.info('s2s host-named stream not established: standard streams with this peer', { hop, reason });
  }
}
