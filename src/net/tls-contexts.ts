/**
 * One TLS secure context per hosted domain, chosen by SNI (RFC 6066 section 3; RFC 6120
 * section 13.7.1.1 recommends the server pick the certificate for the stream's domain).
 * A name without a context of its own falls back to the default context.
 */
import { createSecureContext, type SecureContext, type TlsOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { TlsFiles } from '../config/types.ts';

export interface LoadedCertificate {
  domain: string;
  files: TlsFiles;
  context: SecureContext;
}

export class TlsContextStore {
  #byDomain = new Map<string, LoadedCertificate>();
  #fallback: LoadedCertificate | undefined;

  /** Loads (or reloads) the certificate for a domain; the first one added becomes the fallback. */
  add(domain: string, files: TlsFiles): LoadedCertificate {
    const loaded: LoadedCertificate = {
      domain,
      files,
      context: createSecureContext({
        cert: readFileSync(files.certificate),
        key: readFileSync(files.key),
        minVersion: 'TLSv1.2',
      }),
    };
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
   * Options for a server-side TLS socket: SNI picks the context; a client that sends no SNI gets
   * the certificate of `streamDomain` (the stream header's `to`, known before STARTTLS), else the fallback.
   */
  serverOptions(extra: TlsOptions = {}, streamDomain?: string): TlsOptions {
    const fallback = this.#fallback;
    if (!fallback) throw new Error('no TLS certificate loaded');
    return {
      ...extra,
      secureContext: this.contextFor(streamDomain) ?? fallback.context,
      SNICallback: (serverName, callback) => callback(null, this.contextFor(serverName)),
    };
  }
}
