/**
 * One TLS secure context per hosted domain, chosen by SNI (RFC 6066 section 3; RFC 6120
 * section 13.7.1.1 recommends the server pick the certificate for the stream's domain).
 * A name without a context of its own gets the certificate of a hosted domain that names it (a
 * domain this server fronts, docs/peering.md "Fronting a plain peer"), else the default context.
 *
 * Each certificate has a second context for the sockets that ask for the peer's certificate
 * (server links): it issues stateful session tickets. A stateless TLS 1.3 ticket is the whole
 * session encrypted, the peer's certificate chain included, so with a client certificate every
 * handshake is followed by two records of one to several kilobytes that no server peer uses
 * (server links are not resumed). COMPAT(jabberd2): jabberd2 2.7 reads 1024 bytes at a time and
 * leaves a stale error on OpenSSL's error queue after each handshake (creating the XmppAddr OID
 * again); when its first read after the handshake ends inside a record, SSL_get_error reports
 * that stale error instead of "want read", and jabberd2 drops the connection and opens a new
 * one at once, endlessly. Stateful tickets are records of under 100 bytes, as Prosody sends.
 */
import { constants, X509Certificate } from 'node:crypto';
import { createSecureContext, type ConnectionOptions, type SecureContext, type SecureContextOptions, type Server as TlsServer, type TlsOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { TlsFiles, TlsSettings } from '../config/types.ts';
import { tlsOptions } from './tls-settings.ts';

export interface LoadedCertificate {
  domain: string;
  files: TlsFiles;
  context: SecureContext;
  /** the same certificate for sockets that request the peer's certificate: stateful session tickets */
  peerContext: SecureContext;
  /** the PEM files as loaded, for a listener's default certificate */
  pem: { cert: Buffer; key: Buffer };
  /** the leaf certificate, for the names it covers */
  x509: X509Certificate;
}

/** Names without a certificate of their own whose covering certificate is remembered; beyond this the memory starts over. */
const MAX_COVERED_NAMES = 1024;

/** What `refresh` found: the domains whose files changed and now serve new connections, and those whose new files did not load. */
export interface CertificateRefresh {
  renewed: { domain: string; files: TlsFiles; fingerprint: string; notAfter: string }[];
  failed: { domain: string; files: TlsFiles; error: string }[];
}

/** Server options for a listener: it hands each TLS server it creates to `attach`, so that a refresh reaches the server's default context. */
export type ListenerTlsOptions = TlsOptions & { attach?: (server: TlsServer) => void };

export class TlsContextStore {
  #byDomain = new Map<string, LoadedCertificate>();
  #fallback: LoadedCertificate | undefined;
  /** names without a certificate of their own, with the loaded one that names them (null: none does) */
  #covered = new Map<string, LoadedCertificate | null>();
  /** direct TLS listeners' servers, with whether they request the peer's certificate */
  #servers = new Map<TlsServer, boolean>();
  /** protocol versions, ciphers, groups and renegotiation, the same for every socket */
  readonly options: SecureContextOptions;
  /** `options` for sockets that request the peer's certificate */
  readonly #peerOptions: SecureContextOptions;

  constructor(settings: TlsSettings) {
    this.options = tlsOptions(settings);
    this.#peerOptions = { ...this.options, secureOptions: (this.options.secureOptions ?? 0) | constants.SSL_OP_NO_TICKET };
  }

  /** Loads (or reloads) the certificate for a domain; the first one added becomes the fallback. */
  add(domain: string, files: TlsFiles): LoadedCertificate {
    const loaded = this.#load(domain, files, { cert: readFileSync(files.certificate), key: readFileSync(files.key) });
    this.#install(loaded);
    return loaded;
  }

  /**
   * Reads every loaded certificate's files again, at the same paths, so that a renewed
   * certificate serves new connections without a restart; connections already open keep the
   * one they negotiated. Files that did not change are left as they are, and files that do not
   * load (unreadable, not PEM, a key that does not match) leave the old certificate in use.
   */
  refresh(): CertificateRefresh {
    const result: CertificateRefresh = { renewed: [], failed: [] };
    for (const current of [...this.#byDomain.values()]) {
      try {
        const pem = { cert: readFileSync(current.files.certificate), key: readFileSync(current.files.key) };
        if (pem.cert.equals(current.pem.cert) && pem.key.equals(current.pem.key)) continue;
        this.#install(this.#load(current.domain, current.files, pem));
        const certificate = new X509Certificate(pem.cert);
        result.renewed.push({ domain: current.domain, files: current.files, fingerprint: certificate.fingerprint256, notAfter: certificate.validToDate.toISOString() });
      } catch (error) {
        result.failed.push({ domain: current.domain, files: current.files, error: error instanceof Error ? error.message : String(error) });
      }
    }
    return result;
  }

  #load(domain: string, files: TlsFiles, pem: { cert: Buffer; key: Buffer }): LoadedCertificate {
    return {
      domain,
      files,
      pem,
      x509: new X509Certificate(pem.cert),
      context: createSecureContext({ ...this.options, ...pem }),
      peerContext: createSecureContext({ ...this.#peerOptions, ...pem }),
    };
  }

  #install(loaded: LoadedCertificate): void {
    this.#byDomain.set(loaded.domain, loaded);
    this.#covered.clear();
    if (this.#fallback !== undefined && this.#fallback.domain !== loaded.domain) return;
    this.#fallback = loaded;
    // A tls.Server answers a client that sends no SNI with a default context of its own.
    for (const [server, peers] of this.#servers) server.setSecureContext({ ...(peers ? this.#peerOptions : this.options), ...loaded.pem });
  }

  /** The context for a server name (case-insensitive, one trailing dot ignored); `peers` for sockets that request the peer's certificate. */
  contextFor(serverName: string | undefined, peers = false): SecureContext | undefined {
    const name = serverName?.toLowerCase().replace(/\.$/, '');
    const loaded = (name !== undefined ? this.#byDomain.get(name) ?? this.#covering(name) : undefined) ?? this.#fallback;
    return peers ? loaded?.peerContext : loaded?.context;
  }

  /** Whether a loaded certificate is for `domain` or names it among its identities (RFC 6125 DNS-ID). */
  covers(domain: string): boolean {
    const name = domain.toLowerCase();
    return this.#byDomain.has(name) || this.#covering(name) !== undefined;
  }

  /** The first loaded certificate whose DNS names cover `name` (RFC 6125 section 6.4, wildcards included). */
  #covering(name: string): LoadedCertificate | undefined {
    const known = this.#covered.get(name);
    if (known !== undefined) return known ?? undefined;
    const found = [...this.#byDomain.values()].find((loaded) => loaded.x509.checkHost(name) !== undefined);
    if (this.#covered.size >= MAX_COVERED_NAMES) this.#covered.clear();
    this.#covered.set(name, found ?? null);
    return found;
  }

  /** Forgets a domain's certificate (its host is gone); the fallback moves to another one. */
  delete(domain: string): void {
    if (!this.#byDomain.delete(domain)) return;
    this.#covered.clear();
    if (this.#fallback?.domain !== domain) return;
    const next = this.#byDomain.values().next().value;
    this.#fallback = undefined;
    if (next) this.#install(next);
  }

  has(domain: string): boolean {
    return this.#byDomain.has(domain);
  }

  /** The PEM certificate chain and key loaded for `domain` itself (no fallback), e.g. to sign with its key. */
  pemOf(domain: string): { cert: Buffer; key: Buffer } | undefined {
    return this.#byDomain.get(domain)?.pem;
  }

  /**
   * Options for a server-side TLS socket or a direct TLS listener: SNI picks the context; a
   * client that sends no SNI gets the certificate of `streamDomain` (the stream header's `to`,
   * known before STARTTLS), else the fallback. A tls.Server ignores `secureContext` and builds
   * its default context from the options themselves, hence the fallback's PEM files as well.
   * Requesting the peer's certificate (`requestCert`) selects the stateful-ticket contexts.
   */
  serverOptions(extra: TlsOptions = {}, streamDomain?: string): ListenerTlsOptions {
    const fallback = this.#fallback;
    if (!fallback) throw new Error('no TLS certificate loaded');
    const peers = extra.requestCert === true;
    return {
      ...(peers ? this.#peerOptions : this.options),
      ...fallback.pem,
      ...extra,
      secureContext: this.contextFor(streamDomain, peers),
      SNICallback: (serverName, callback) => callback(null, this.contextFor(serverName, peers)),
      attach: (server) => {
        this.#servers.set(server, peers);
        server.once('close', () => this.#servers.delete(server));
      },
    };
  }

  /**
   * Options for a TLS socket we open to a peer: the certificate of `localDomain` (offered for
   * SASL EXTERNAL), else the fallback, or, with none loaded, a context built from the same settings.
   */
  clientOptions(localDomain: string): ConnectionOptions {
    const context = this.contextFor(localDomain);
    return context === undefined ? { ...this.options } : { ...this.options, secureContext: context };
  }
}
