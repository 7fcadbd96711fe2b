/**
 * One TLS secure context per hosted domain, chosen by SNI (RFC 6066 section 3; RFC 6120
 * section 13.7.1.1 recommends the server pick the certificate for the stream's domain).
 * A name without a context of its own falls back to the default context.
 */
import { createSecureContext, type ConnectionOptions, type SecureContext, type SecureContextOptions, type TlsOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { TlsFiles, TlsSettings } from '../config/types.ts';
import { tlsOptions } from './tls-settings.ts';

export interface LoadedCertificate {
  domain: string;
  files: TlsFiles;
  context: SecureContext;
  /** the PEM files as loaded, for a listener's default certificate */
  pem: { cert: Buffer; key: Buffer };
}

export class TlsContextStore {
  #byDomain = new Map<string, LoadedCertificate>();
  #fallback: LoadedCertificate | undefined;
  /** protocol versions, ciphers, groups and renegotiation, the same for every socket */
  readonly options: SecureContextOptions;

  constructor(settings: TlsSettings) {
    this.options = tlsOptions(settings);
  }

  /** Loads (or reloads) the certificate for a domain; the first one added becomes the fallback. */
  add(domain: string, files: TlsFiles): LoadedCertificate {
    const pem = { cert: readFileSync(files.certificate), key: readFileSync(files.key) };
    const loaded: LoadedCertificate = { domain, files, pem, context: createSecureContext({ ...this.options, ...pem }) };
    this.#byDomain.set(domain, loaded);
    this.#fallback ??= loaded;
    return loaded;
  }

  /** The context for a server name (case-insensitive, one trailing dot ignored). */
  contextFor(serverName: string | undefined): SecureContext | undefined {
    const name = serverName?.toLowerCase().replace(/\.$/, '');
    return (name !== undefined ? this.#byDomain.get(name) : undefined)?.context ?? this.#fallback?.context;
  }

  has(domain: string): boolean {
    return this.#byDomain.has(domain);
  }

  /**
   * Options for a server-side TLS socket or a direct TLS listener: SNI picks the context; a
   * client that sends no SNI gets the certificate of `streamDomain` (the stream header's `to`,
   * known before STARTTLS), else the fallback. A tls.Server ignores `secureContext` and builds
   * its default context from the options themselves, hence the fallback's PEM files as well.
   */
  serverOptions(extra: TlsOptions = {}, streamDomain?: string): TlsOptions {
    const fallback = this.#fallback;
    if (!fallback) throw new Error('no TLS certificate loaded');
    return {
      ...this.options,
      ...fallback.pem,
      ...extra,
      secureContext: this.contextFor(streamDomain) ?? fallback.context,
      SNICallback: (serverName, callback) => callback(null, this.contextFor(serverName)),
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
