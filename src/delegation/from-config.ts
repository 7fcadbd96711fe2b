/**
 * The delegation checks as `s2s.delegation` configures them: which proof methods are on (host
 * activation among them, which the host-named stream itself runs), the
 * DNSSEC-aware resolver (only when validating resolvers are configured), the POSH verifier
 * with its trust anchors, and the per-domain policy on unsigned SRV records.
 */
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import type { DelegationMethodName, S2sDelegationConfig } from '../config/types.ts';
import { DomainMatcher, listEntries } from '../policy/domain-match.ts';
import { PoshVerifier } from './posh.ts';
import type { SecureResolver } from './secure-resolver.ts';

export interface DelegationChecks {
  /** methods that can run: dnssec_srv and dane are off without a configured resolver; host_activation runs in src/s2s */
  methods: ReadonlySet<DelegationMethodName>;
  /** undefined when no validating resolver is configured */
  resolver?: SecureResolver;
  /** undefined when posh is off */
  posh?: PoshVerifier;
  /** local policy: whether an unsigned SRV record of this remote domain counts as a delegation */
  acceptsUnsignedSrv(domain: string): boolean;
}

/** Reads the POSH CA files; throws with the file name when one cannot be read. */
export async function createDelegationChecks(settings: S2sDelegationConfig): Promise<DelegationChecks> {
  // The resolver's modules (a DNS message codec, node:dgram) are imported only when it is configured.
  const resolver = settings.resolvers.length > 0
    ? (await import('./secure-resolver.ts')).createSecureResolver({ servers: settings.resolvers, timeoutMs: settings.resolver_timeout * 1000 })
    : undefined;
  // Only the DNS methods need a resolver.
  const methods = new Set(settings.methods.filter((method) => (method !== 'dnssec_srv' && method !== 'dane') || resolver !== undefined));
  let posh: PoshVerifier | undefined;
  if (methods.has('posh')) {
    posh = new PoshVerifier({
      ca: await poshTrustAnchors(settings.posh.ca_files, settings.posh.use_system_ca),
      timeoutMs: settings.posh.timeout * 1000,
      maxBytes: settings.posh.max_bytes,
      cacheEntries: settings.posh.cache_entries,
      maxCacheSeconds: settings.posh.max_cache_time,
    });
  }
  const unsigned = new DomainMatcher(listEntries('s2s.delegation.accept_unsigned_srv', settings.accept_unsigned_srv));
  return {
    methods,
    ...(resolver ? { resolver } : {}),
    ...(posh ? { posh } : {}),
    acceptsUnsignedSrv: (domain) => unsigned.covers(domain),
  };
}

/** Node's `ca` option replaces its bundled roots, so they are listed explicitly when wanted. */
async function poshTrustAnchors(files: readonly string[], includeSystem: boolean): Promise<string[]> {
  const anchors = includeSystem ? [...rootCertificates] : [];
  for (const file of files) {
    try {
      anchors.push(await readFile(file, 'utf8'));
    } catch (error) {
      throw new Error(`s2s.delegation.posh.ca_files: cannot read ${file}: ${(error as Error).message}`);
    }
  }
  return anchors;
}
