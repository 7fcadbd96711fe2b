/**
 * A stub resolver that reports DNSSEC status, for the proofs that need it (DNSSEC-signed SRV
 * delegation, DANE). It does not validate signatures itself: it asks a validating resolver the
 * operator configured and believes that resolver's AD bit (RFC 6840 section 5.7: a stub may
 * rely on a resolver it trusts over a path it trusts; RFC 4035 section 4.9.3). No address from
 * resolv.conf is ever used here, since nothing says that path is trusted.
 *
 * Every query sets RD, AD (RFC 6840 section 5.7: "set the AD bit in the query" to get it back
 * without DO-size answers) and the EDNS0 DO bit (RFC 3225, RFC 4035 section 3.2.1), never CD, so
 * the resolver validates and answers SERVFAIL for bogus data (RFC 4035 section 5.5).
 */
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import type { SrvRecord } from '../net/dns-srv-order.ts';
import { parseResolverAddress, type ResolverAddress } from '../net/resolver-address.ts';
import { exchange, UDP_PAYLOAD_SIZE } from './dns-transport.ts';

/**
 * - secure: NOERROR with AD=1: the records (or their absence) passed validation;
 * - insecure: NOERROR with AD=0: unsigned, or from a resolver that does not validate;
 * - bogus: SERVFAIL, which a validating resolver answers for data that fails validation
 *   (it may also mean a broken authority: either way nothing is proven);
 * - nxdomain: the name does not exist (`authenticated` says whether that was validated);
 * - failed: no usable answer (timeouts, REFUSED, FORMERR, ...), so nothing is known.
 */
export type DnssecStatus = 'secure' | 'insecure' | 'bogus' | 'nxdomain' | 'failed';

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  /** the certificate association data */
  data: Buffer;
}

export interface SecureAnswer<T> {
  status: DnssecStatus;
  /** records of the asked type at the name, or at the end of its CNAME chain; empty unless secure or insecure */
  records: T[];
  /** the AD bit of the response */
  authenticated: boolean;
  /** the smallest TTL among the records, in seconds; 0 without records */
  ttl: number;
  /** why the status is failed or bogus, for logs */
  reason?: string;
}

export interface SecureResolver {
  srv(name: string): Promise<SecureAnswer<SrvRecord>>;
  tlsa(name: string): Promise<SecureAnswer<TlsaRecord>>;
  a(host: string): Promise<SecureAnswer<string>>;
  aaaa(host: string): Promise<SecureAnswer<string>>;
}

export interface SecureResolverOptions {
  /** the operator's validating resolvers: "ip", "ip:port" or "[ipv6]:port"; at least one */
  servers: readonly string[];
  /** milliseconds to wait for one answer (per transport) */
  timeoutMs?: number;
  /** rounds over all servers before giving up */
  tries?: number;
}

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_TRIES = 2;
/** a longer CNAME chain is not followed */
const MAX_CNAME_CHAIN = 8;

const RCODE_NOERROR = 0;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

type QueryType = 'SRV' | 'TLSA' | 'A' | 'AAAA';

export function createSecureResolver(options: SecureResolverOptions): SecureResolver {
  if (options.servers.length === 0) throw new Error('a DNSSEC-aware resolver needs at least one configured validating resolver');
  const servers = options.servers.map(parseResolverAddress);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tries = options.tries ?? DEFAULT_TRIES;
  const ask = (name: string, type: QueryType) => secureQuery(servers, name, type, timeoutMs, tries);
  return {
    srv: async (name) => mapRecords(await ask(name, 'SRV'), (answer) => {
      const data = (answer as packet.SrvAnswer).data;
      return { name: data.target.toLowerCase().replace(/\.$/, ''), port: data.port, priority: data.priority ?? 0, weight: data.weight ?? 0 };
    }),
    tlsa: async (name) => mapRecords(await ask(name, 'TLSA'), (answer) => {
      const data = (answer as packet.TlsaAnswer).data;
      return { usage: data.usage, selector: data.selector, matchingType: data.matchingType, data: Buffer.from(data.certificate) };
    }),
    a: async (host) => mapRecords(await ask(host, 'A'), (answer) => (answer as packet.StringAnswer).data),
    aaaa: async (host) => mapRecords(await ask(host, 'AAAA'), (answer) => (answer as packet.StringAnswer).data),
  };
}

/** The query a stub sends: a fresh random id (RFC 5452 section 9.2), RD+AD, EDNS0 with DO. */
export function buildQuery(name: string, type: QueryType): packet.Packet {
  return {
    type: 'query',
    id: randomInt(0, 65536),
    flags: packet.RECURSION_DESIRED | packet.AUTHENTIC_DATA,
    questions: [{ type, class: 'IN', name: name.replace(/\.$/, '') }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: UDP_PAYLOAD_SIZE, extendedRcode: 0, ednsVersion: 0, flags: packet.DNSSEC_OK, flag_do: true, options: [] }],
  };
}

async function secureQuery(servers: ResolverAddress[], name: string, type: QueryType, timeoutMs: number, tries: number): Promise<SecureAnswer<packet.Answer>> {
  for (let attempt = 0; attempt < tries; attempt++) {
    for (const server of servers) {
      // a new id for every attempt: a late answer to an earlier one is not taken for this one
      const query = buildQuery(name, type);
      const result = await exchange(server, query, timeoutMs);
      if (result.kind === 'answer') return classify(result.response, name, type);
    }
  }
  return { status: 'failed', records: [], authenticated: false, ttl: 0, reason: `no answer from ${servers.map(describe).join(', ')} after ${tries} tries` };
}

/** Status and records of a response already checked to answer the query. */
export function classify(response: packet.DecodedPacket, name: string, type: QueryType): SecureAnswer<packet.Answer> {
  const authenticated = response.flag_ad;
  const opt = (response.additionals ?? []).find((record) => record.type === 'OPT') as packet.OptAnswer | undefined;
  // RFC 6891 section 6.1.3: the OPT record carries the upper eight bits of a 12-bit RCODE
  const rcode = ((opt?.extendedRcode ?? 0) << 4) | (response.flags! & 0xf);
  if (rcode === RCODE_SERVFAIL) return { status: 'bogus', records: [], authenticated, ttl: 0, reason: 'SERVFAIL from the validating resolver' };
  if (rcode === RCODE_NXDOMAIN) return { status: 'nxdomain', records: [], authenticated, ttl: 0 };
  if (rcode !== RCODE_NOERROR) return { status: 'failed', records: [], authenticated, ttl: 0, reason: `response code ${rcode}` };
  const records = recordsAt(response.answers ?? [], name, type);
  const ttl = records.length === 0 ? 0 : Math.min(...records.map((record) => ('ttl' in record ? (record.ttl ?? 0) : 0)));
  return { status: authenticated ? 'secure' : 'insecure', records, authenticated, ttl };
}

/** Records of `type` owned by `name` or by the end of its CNAME chain (RFC 1034 section 3.6.2). */
function recordsAt(answers: packet.Answer[], name: string, type: QueryType): packet.Answer[] {
  let owner = name.toLowerCase().replace(/\.$/, '');
  for (let step = 0; step <= MAX_CNAME_CHAIN; step++) {
    const found = answers.filter((record) => record.type === type && record.name.toLowerCase() === owner);
    if (found.length > 0) return found;
    const alias = answers.find((record) => record.type === 'CNAME' && record.name.toLowerCase() === owner) as packet.StringAnswer | undefined;
    if (!alias) return [];
    owner = alias.data.toLowerCase().replace(/\.$/, '');
  }
  return [];
}

function mapRecords<T>(answer: SecureAnswer<packet.Answer>, map: (record: packet.Answer) => T): SecureAnswer<T> {
  return { ...answer, records: answer.records.map(map) };
}

function describe(server: ResolverAddress): string {
  return server.address.includes(':') ? `[${server.address}]:${server.port}` : `${server.address}:${server.port}`;
}
