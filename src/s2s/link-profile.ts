/**
 * Links over server-to-server streams (docs/links.md, "Links over server-to-server streams"): a
 * remote domain that s2s.peering routes over a link of protocol s2s is reached at the link's
 * fixed address with no DNS lookup, and its streams, whichever side opened them, are secured and
 * authenticated as the link says: TLS required or not, the peer's certificate pinned or chained
 * to the link's own trust anchors, one authentication method, the link's timeouts, backoff,
 * queue limit and whitespace keepalives. Everything else is the standard negotiation.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { LinkS2sConfig, S2sConfig } from '../config/types.ts';
import { entryPath } from '../config/describe.ts';
import { resolveAddresses, type ServerTarget } from '../net/dns.ts';
import type { XmlStream } from '../net/xml-stream.ts';
import { reject, type Admission } from '../policy/verdict.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { AuthMethod, S2sContext } from './context.ts';
import type { CertificateVerdict } from './peer-certificate.ts';

/** One link of protocol s2s as the s2s layer uses it. */
export interface S2sLinkProfile {
  name: string;
  host: string;
  port: number;
  settings: LinkS2sConfig;
  /** SHA-256 fingerprint of the pinned certificate (as Node writes it: "AB:CD:...") */
  pinned?: string;
  /** the link's trust anchors, in place of s2s.ca_files */
  anchors?: readonly X509Certificate[];
  /** seconds of silence after which a whitespace keepalive is written; 0: none */
  keepalive: number;
  reconnectInitialDelay: number;
  reconnectMaxDelay: number;
  queueMaxStanzas: number;
}

/** The links of protocol s2s, as the links service (src/links) keeps them. */
export interface S2sLinks {
  byName(name: string): S2sLinkProfile | undefined;
  /** a stream to or from the link's peer failed; `text` says why (the link's status row) */
  failed(name: string, text: string): void;
}

/** The s2s settings a link replaces for the domains routed over it. */
export type LinkedSettings = Pick<S2sConfig, 'connect_timeout' | 'negotiation_timeout' | 'retry_initial_delay' | 'retry_max_delay' | 'queue_max_stanzas'>;

/** The link of protocol s2s that `domain` is routed over (s2s.peering), if any. */
export function linkProfileOf(context: S2sContext, domain: string | undefined): S2sLinkProfile | undefined {
  if (domain === undefined || context.links === undefined) return undefined;
  const way = context.policy.current.route(domain);
  return way.kind === 'route' && way.via.kind === 'link' ? context.links.byName(way.via.link) : undefined;
}

/** The timeouts, backoff and queue limit for `domain`: its link's, or federation's. */
export function settingsFor(context: S2sContext, domain: string | undefined): LinkedSettings {
  const profile = linkProfileOf(context, domain);
  if (profile === undefined) return context.config;
  return {
    connect_timeout: profile.settings.connect_timeout,
    negotiation_timeout: profile.settings.negotiation_timeout,
    retry_initial_delay: profile.reconnectInitialDelay,
    retry_max_delay: profile.reconnectMaxDelay,
    queue_max_stanzas: profile.queueMaxStanzas,
  };
}

/** The link's fixed next hop: its address, with no SRV lookup (an address record only when it names a host). */
export async function linkTargets(profile: S2sLinkProfile, domain: string, context: S2sContext): Promise<ServerTarget[] | StanzaError> {
  const directTls = profile.settings.direct_tls;
  if (isIP(profile.host) !== 0) return [{ host: profile.host, port: profile.port, directTls, addresses: [profile.host] }];
  const resolved = await resolveAddresses(context.dns, profile.host);
  if (resolved.addresses.length === 0) return new StanzaError('remote-server-not-found', `the link ${profile.name}'s peer ${profile.host} (for ${domain}) has no address${resolved.failed ? ' (DNS failure)' : ''}`);
  return [{ host: profile.host, port: profile.port, directTls, addresses: resolved.addresses }];
}

/** Whether TLS is required with `domain` by its link (policy may require it as well). */
export function linkRequiresTls(context: S2sContext, domain: string | undefined): boolean {
  return linkProfileOf(context, domain)?.settings.tls === 'required';
}

/** Whether the link lets SASL EXTERNAL be tried for `domain`. */
export function linkAllowsSaslExternal(context: S2sContext, domain: string | undefined): boolean {
  return linkProfileOf(context, domain)?.settings.authentication !== 'dialback';
}

/**
 * The peer's certificate judged by the link: with a pinned certificate, valid exactly when the
 * peer presented that one (it then proves every domain of the link); undefined when the link
 * pins nothing (the caller checks the chain, against `linkAnchors`).
 */
export function pinnedVerdict(profile: S2sLinkProfile | undefined, socket: unknown): CertificateVerdict | undefined {
  if (profile?.pinned === undefined) return undefined;
  const presented = socket instanceof TLSSocket ? socket.getPeerCertificate() : undefined;
  const fingerprint = presented && Object.keys(presented).length > 0 ? presented.fingerprint256 : undefined;
  if (fingerprint === profile.pinned) return { status: 'valid', fingerprint };
  const reason = fingerprint === undefined ? `the peer presented no certificate, and the link ${profile.name} pins one` : `the peer's certificate (${fingerprint}) is not the one the link ${profile.name} pins`;
  return fingerprint === undefined ? { status: 'absent', reason } : { status: 'untrusted', reason, fingerprint };
}

/** The trust anchors for `domain`'s certificate: its link's, or federation's. */
export function linkAnchors(context: S2sContext, domain: string | undefined): readonly X509Certificate[] {
  return linkProfileOf(context, domain)?.anchors ?? context.anchors;
}

/**
 * The proofs each setting accepts. A dialback request may be granted on the peer's certificate
 * (the pinned one, say) rather than by a verification connection, and pairs after the first on
 * a stream authenticated by SASL EXTERNAL are granted on the certificate too (pair-authorization.ts).
 */
const METHODS: Record<LinkS2sConfig['authentication'], readonly AuthMethod[] | undefined> = { any: undefined, dialback: ['dialback', 'certificate'], sasl_external: ['sasl-external', 'certificate'] };

/**
 * The link's verdict on a pair proven by `method` with the peer's certificate judged
 * `certificate`: refused when the link asks for another method, or pins a certificate the peer
 * did not present. The refusal bounces stanzas with remote-server-not-found: the peer at the
 * link's address is not the one configured.
 */
export function linkAdmits(context: S2sContext, remote: string, method: AuthMethod, certificate: () => CertificateVerdict): Admission | undefined {
  const profile = linkProfileOf(context, remote);
  if (profile === undefined) return undefined;
  const at = `${entryPath('links', profile.name)}.s2s`;
  const accepted = METHODS[profile.settings.authentication];
  if (accepted !== undefined && !accepted.includes(method)) {
    return reject(`${at}.authentication`, 'remote-server-not-found', `the link ${profile.name} authenticates ${remote} by ${profile.settings.authentication} only, not ${method}`);
  }
  if (profile.pinned !== undefined) {
    const verdict = certificate();
    if (verdict.status !== 'valid') return reject(`${at}.peer_certificate`, 'remote-server-not-found', verdict.reason ?? `the peer's certificate is not the one the link ${profile.name} pins`);
  }
  return undefined;
}

/**
 * Whitespace keepalives on the streams of links that ask for them (RFC 6120 section 4.6.1): a
 * single space once the stream has written nothing for the link's keepalive seconds.
 */
export class LinkKeepalives {
  readonly #written = new WeakMap<XmlStream, { chars: number; at: number }>();

  /** Called every second or so for each live stream of the remote domain `domain`. */
  tick(context: S2sContext, stream: XmlStream, domain: string | undefined, now: number): void {
    const keepalive = linkProfileOf(context, domain)?.keepalive ?? 0;
    if (keepalive === 0 || stream.closing) return;
    const last = this.#written.get(stream);
    if (last === undefined || last.chars !== stream.queuedChars) return void this.#written.set(stream, { chars: stream.queuedChars, at: now });
    if (now - last.at < keepalive * 1000) return;
    stream.sendRaw(' ');
    this.#written.set(stream, { chars: stream.queuedChars, at: now });
  }
}
