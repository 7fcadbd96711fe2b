/**
 * The federation benchmark's lab: DNS and certificates for two servers, A and B, each hosting
 * - one domain for the throughput run (`fa.test` on A, `fb.test` on B),
 * - `links` domains for cold links with CA certificates (`xa1.test`… on A, `xb1.test`… on B),
 * - as many again reached over direct TLS (`ya1.test`…, `yb1.test`…), with CA certificates,
 * - `links` domains for cold links with dialback (`da1.test`… and `db1.test`…), which have no
 *   certificate of their own, so the server uses a self-signed one (Trellis generates it).
 * Every domain has an `_xmpp-server._tcp` SRV record pointing at its server's name (RFC 6120
 * section 3.2.1), except the direct TLS ones, which have only an `_xmpps-server._tcp` record
 * (XEP-0368 section 3) to the direct TLS port. Each server's CA certificate names all of its CA
 * domains (DNS-IDs and SRV-IDs).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestCa, writeCertificateFiles } from '../../test/support/lab/ca.ts';
import { startLabDns, type LabDns, type LabRecord } from '../../test/support/lab/dns.ts';
import { S2S_DIRECT_TLS_PORT, S2S_PORT } from './peer.ts';

export interface LabSide {
  /** the server's host name in DNS, e.g. "xmpp-a.test" */
  serverName: string;
  address: string;
  throughputDomain: string;
  externalDomains: string[];
  directTlsDomains: string[];
  dialbackDomains: string[];
  certFile: string;
  keyFile: string;
}

export interface BenchLab {
  a: LabSide;
  b: LabSide;
  caFile: string;
  dns: LabDns;
}

export async function setUpLab(dir: string, addresses: { a: string; b: string }, links: number): Promise<BenchLab> {
  const ca = await createTestCa('Trellis Bench CA');
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  const side = async (letter: 'a' | 'b', address: string): Promise<LabSide> => {
    const range = (prefix: string) => Array.from({ length: links }, (_, index) => `${prefix}${letter}${index + 1}.test`);
    const throughputDomain = `f${letter}.test`;
    const externalDomains = range('x');
    const directTlsDomains = range('y');
    const withCertificate = [throughputDomain, ...externalDomains, ...directTlsDomains];
    const issued = await ca.issue({ names: withCertificate, srvNames: withCertificate.map((domain) => `_xmpp-server.${domain}`) });
    return {
      serverName: `xmpp-${letter}.test`,
      address,
      throughputDomain,
      externalDomains,
      directTlsDomains,
      dialbackDomains: range('d'),
      ...writeCertificateFiles(dir, `server-${letter}`, issued),
    };
  };
  const [a, b] = await Promise.all([side('a', addresses.a), side('b', addresses.b)]);
  const records: LabRecord[] = [];
  for (const server of [a, b]) {
    records.push({ name: server.serverName, type: 'A', address: server.address });
    for (const domain of [server.throughputDomain, ...server.externalDomains, ...server.dialbackDomains]) {
      records.push({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV', port: S2S_PORT, target: server.serverName });
    }
    for (const domain of server.directTlsDomains) {
      records.push({ name: `_xmpps-server._tcp.${domain}`, type: 'SRV', port: S2S_DIRECT_TLS_PORT, target: server.serverName });
    }
  }
  const dns = await startLabDns([{ name: 'test', records }]);
  return { a, b, caFile, dns };
}
