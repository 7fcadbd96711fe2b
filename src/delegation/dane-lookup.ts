/**
 * The DNS answers daneVerdict (dane.ts) decides on, asked of the validating resolver in the
 * order RFC 7673 section 3 gives: the SRV record; for a secure one, each target's address
 * records (section 3.2); for a target with secure addresses, its TLSA records (section 3.3).
 */
import type { SrvRecord } from '../net/dns-srv-order.ts';
import type { SecureAnswer, SecureResolver, TlsaRecord } from './secure-resolver.ts';
import { tlsaQueryName } from './tlsa.ts';

export interface DaneLookup {
  srv: SecureAnswer<SrvRecord>;
  /** by SRV target host; only targets whose TLSA records were asked */
  tlsa: Map<string, SecureAnswer<TlsaRecord>>;
}

/** At most this many targets are followed: an SRV set with more is unusual and costs queries. */
const MAX_TARGETS = 8;

export async function lookupDane(resolver: SecureResolver, domain: string, service = '_xmpp-server._tcp'): Promise<DaneLookup> {
  const srv = await resolver.srv(`${service}.${domain.toLowerCase().replace(/\.$/, '')}`);
  const tlsa = new Map<string, SecureAnswer<TlsaRecord>>();
  // RFC 7673 section 3.1: only a secure SRV answer leads to TLSA
  if (srv.status !== 'secure') return { srv, tlsa };
  const targets = new Map<string, number>();
  for (const record of srv.records) if (record.name !== '' && !targets.has(record.name) && targets.size < MAX_TARGETS) targets.set(record.name, record.port);
  await Promise.all([...targets].map(async ([target, port]) => {
    const [a, aaaa] = await Promise.all([resolver.a(target), resolver.aaaa(target)]);
    // Section 3.2: bogus or indeterminate addresses, skip the target (recorded as a bogus TLSA
    // answer, so daneVerdict does not use it); insecure addresses, no TLSA query.
    if ([a, aaaa].some((answer) => answer.status === 'bogus' || answer.status === 'failed')) {
      tlsa.set(target, { status: 'bogus', records: [], authenticated: false, ttl: 0, reason: `the address records of ${target} did not validate` });
      return;
    }
    if (![a, aaaa].some((answer) => answer.status === 'secure' && answer.records.length > 0)) return;
    tlsa.set(target, await resolver.tlsa(tlsaQueryName(target, port)));
  }));
  return { srv, tlsa };
}
