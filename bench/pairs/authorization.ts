/**
 * What one more domain pair costs: on the connection already open (a keyless request, proven by
 * the certificate, DANE, a DNSSEC-signed SRV record or POSH), against a new authenticated
 * connection (TCP, STARTTLS, SASL EXTERNAL). The servers reach each other through a relay that
 * delays each direction by a fixed time, so the extra time of a pair's first message over its
 * second, divided by the round-trip time, is the round trips its authorization took. Bytes are
 * what the server connections carried for it: the first message's bytes less the second's.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import { fingerprintsDocument } from '../../src/delegation/posh-document.ts';
import { writeCertificateFiles } from '../../test/support/lab/ca.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabRecord } from '../../test/support/lab/dns.ts';
import { labHosts } from '../../test/support/lab/trellis-hosts.ts';
import type { TestServer } from '../../test/support/server.ts';
import { startDelayProxy } from './delay-proxy.ts';

const H1 = '127.0.2.11';
const H2 = '127.0.2.12';
const PROXY = '127.0.2.13';
const WEB = '127.0.2.14';
const H3 = '127.0.2.15';

export type Method = 'certificate' | 'dane' | 'dnssec-srv' | 'posh' | 'new connection';

export interface PairCost {
  method: Method;
  /** how the receiving server recorded the proof */
  recorded: string;
  /** per sample */
  extraMs: number[];
  roundTrips: number[];
  bytes: number[];
}

export async function measureAuthorization(dir: string, samples: number, oneWayMs: number): Promise<PairCost[]> {
  const range = (prefix: string, suffix: string) => Array.from({ length: samples }, (_, i) => `${prefix}${i + 1}${suffix}`);
  const domains: Record<Exclude<Method, 'new connection'>, string[]> = { certificate: range('c', '.test'), dane: range('d', '.dna.test'), 'dnssec-srv': range('s', '.dna.test'), posh: range('w', '.test') };
  const fresh = range('n', '.test');
  const lab = await labHosts(dir, { bidi: true });
  // The connection's certificate: the opener, the certificate-proven domains, the host name signed SRV records point at.
  const shared = await lab.ca.issue({ names: ['a0.test', ...domains.certificate, 'xmpp.h1.dna.test'] });
  const sharedFiles = writeCertificateFiles(dir, 'h1-shared', shared);
  const spki = new X509Certificate(shared.certPem).publicKey.export({ type: 'spki', format: 'der' });
  const srv = (name: string, target: string): LabRecord => ({ name: `_xmpp-server._tcp.${name}`, type: 'SRV', port: 5269, target });
  const dns = await startLabDns([
    {
      name: 'test',
      records: [
        { name: 'xmpp.h1.test', type: 'A', address: H1 },
        { name: 'xmpp.h3.test', type: 'A', address: H3 },
        // b.test is reached through the relay.
        { name: 'xmpp.h2.test', type: 'A', address: PROXY },
        srv('b.test', 'xmpp.h2.test'),
        ...['a0.test', ...domains.certificate, ...domains.posh].map((domain) => srv(domain, 'xmpp.h1.test')),
        ...fresh.map((domain) => srv(domain, 'xmpp.h3.test')),
        ...domains.posh.map((domain): LabRecord => ({ name: domain, type: 'A', address: WEB })),
      ],
    },
    {
      name: 'dna.test',
      signed: true,
      records: [
        { name: 'xmpp.h1.dna.test', type: 'A', address: H1 },
        { name: 'dane.h1.dna.test', type: 'A', address: H1 },
        // RFC 7673 / RFC 6698: DANE-EE (3), SubjectPublicKeyInfo (1), SHA-256 (1).
        { name: '_5269._tcp.dane.h1.dna.test', type: 'TLSA', usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(spki).digest('hex') },
        ...domains['dnssec-srv'].map((domain) => srv(domain, 'xmpp.h1.dna.test')),
        ...domains.dane.map((domain) => srv(domain, 'dane.h1.dna.test')),
      ],
    },
  ]);
  const proxy = await startDelayProxy({ address: PROXY, port: 5269 }, { address: H2, port: 5269 }, oneWayMs);
  // RFC 7711: each POSH domain publishes the fingerprint of the connection's certificate.
  const document = fingerprintsDocument([new X509Certificate(shared.certPem).raw], 3600);
  const site = await lab.ca.issue({ names: domains.posh });
  const web: Server = createServer({ cert: site.certPem, key: site.keyPem }, (request, response) => {
    const found = request.url === '/.well-known/posh/xmpp-server.json';
    response.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
    response.end(found ? document : '');
  });
  web.listen(443, WEB);
  await once(web, 'listening');
  try {
    const sharedYaml = ['a0.test', ...domains.certificate].map((domain) => `  ${domain}:\n    tls: { certificate: "${sharedFiles.certFile}", key: "${sharedFiles.keyFile}" }\n`).join('');
    const ownYaml = await lab.hostsYaml(Object.fromEntries([...domains.dane, ...domains['dnssec-srv'], ...domains.posh].map((domain) => [domain, []])));
    const h1 = await lab.start(H1, sharedYaml + ownYaml);
    const delegation = `  delegation:\n    methods: [dnssec_srv, dane, posh]\n    resolvers: ["${LAB_RESOLVER_ADDRESS}"]\n    posh: { ca_files: ["${lab.caFile}"], use_system_ca: false }`;
    const h2 = await lab.start(H2, await lab.hostsYaml({ 'b.test': [] }), delegation);
    // Each fresh domain gets a connection of its own: s2s.multiplex off.
    const h3 = await lab.start(H3, await lab.hostsYaml(Object.fromEntries(fresh.map((domain) => [domain, []]))), '  multiplex: false');
    await lab.loginUsers(h1, ['a0.test', ...Object.values(domains).flat()]);
    await lab.loginUsers(h2, ['b.test']);
    await lab.loginUsers(h3, fresh);
    const cost = async (server: TestServer, from: string): Promise<{ extraMs: number; bytes: number; recorded: string }> => {
      const bytes = () => server.server.s2s.connections().reduce((sum, row) => sum + row.bytesIn + row.bytesOut, 0);
      const send = async (tag: string): Promise<number> => {
        const started = performance.now();
        lab.clients.get(from)!.send(`<message to='u@b.test/r' type='chat'><body>${tag} from ${from}</body></message>`);
        await lab.clients.get('b.test')!.waitFor(`${tag} from ${from}<`, 30_000);
        return performance.now() - started;
      };
      // Acknowledgements (XEP-0198) trail a stanza by a round trip: wait for them before counting.
      const quiet = () => new Promise((resolve) => setTimeout(resolve, 6 * oneWayMs));
      const before = bytes();
      const first = await send('first');
      await quiet();
      const between = bytes();
      const second = await send('second');
      await quiet();
      const after = bytes();
      const recorded = h2.server.s2s.bindingTable.rows().find((row) => row.local === 'b.test' && row.remote === from)?.in[0]?.proof.method ?? 'none';
      return { extraMs: first - second, bytes: between - before - (after - between), recorded };
    };
    // The connection every further pair of h1 is asked for on.
    await cost(h1, 'a0.test');
    const results: PairCost[] = [];
    const rtt = 2 * oneWayMs;
    for (const [method, server, list] of [...Object.entries(domains).map(([method, list]) => [method, h1, list] as const), ['new connection', h3, fresh] as const]) {
      const result: PairCost = { method: method as Method, recorded: '', extraMs: [], roundTrips: [], bytes: [] };
      for (const domain of list) {
        const { extraMs, bytes, recorded } = await cost(server, domain);
        result.extraMs.push(extraMs);
        result.roundTrips.push(extraMs / rtt);
        result.bytes.push(bytes);
        result.recorded = recorded;
      }
      results.push(result);
      process.stderr.write(`pairs: ${method}: ${result.extraMs.map((ms) => ms.toFixed(0)).join(', ')} ms, ${result.bytes.join(', ')} bytes (recorded as ${result.recorded})\n`);
    }
    const onOne = h1.server.s2s.connections().length;
    if (onOne !== 1) throw new Error(`h1 holds ${onOne} connections; every pair was meant to share one`);
    return results;
  } finally {
    await lab.stop();
    web.closeAllConnections();
    await new Promise((resolve) => web.close(resolve));
    await proxy.stop();
    await dns.stop();
  }
}
