/**
 * Trellis hosts in the lab serving several domains at `s2s.min_level: trusted`, each domain
 * with a certificate from one test CA, resolving through the lab's DNS; one user "u" per
 * domain, logged in with resource "r".
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { login } from '../login.ts';
import type { RawClient } from '../raw-client.ts';
import { startTestServer, type TestServer } from '../server.ts';
import { createTestCa, writeCertificateFiles, type CertificateAndKey, type TestCa } from './ca.ts';
import { LAB_RESOLVER_ADDRESS } from './dns.ts';

export interface LabHosts {
  ca: TestCa;
  caFile: string;
  /** the users' clients, by domain */
  clients: Map<string, RawClient>;
  /** the certificates hostsYaml issued, by domain */
  certificates: Map<string, CertificateAndKey>;
  /** `hosts:` entries for domains, each with a certificate naming it and the names given */
  hostsYaml(domains: Record<string, string[]>): Promise<string>;
  /**
   * starts a host on `address` (port 5269) serving `hostsYaml`; `s2sExtra` adds lines under
   * `s2s:`, `extra.top` top-level sections; `extra.bidi` overrides the hosts' bidi option
   */
  start(address: string, hostsYaml: string, s2sExtra?: string, extra?: { bidi?: boolean; top?: string }): Promise<TestServer>;
  /** adds user "u" to each domain of `server` and logs it in */
  loginUsers(server: TestServer, domains: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export interface LabHostsOptions {
  /**
   * XEP-0288 bidirectional connections: off unless asked for, since most tests of these hosts
   * assert which connection each pair is authorized on, and bidi binds the reverse pairs to the
   * same connections too; true leaves `s2s.bidi` at its default (on).
   */
  bidi?: boolean;
}

export async function labHosts(dir: string, options: LabHostsOptions = {}): Promise<LabHosts> {
  const ca = await createTestCa();
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  const clients = new Map<string, RawClient>();
  const certificates = new Map<string, CertificateAndKey>();
  const servers: TestServer[] = [];
  const trustingCa = (server: TestServer): TestServer => ({ ...server, certificateFile: () => caFile });
  return {
    ca,
    caFile,
    clients,
    certificates,
    async hostsYaml(domains) {
      let yaml = '';
      for (const [domain, names] of Object.entries(domains)) {
        const certificate = await ca.issue({ names: [domain, ...names] });
        certificates.set(domain, certificate);
        const files = writeCertificateFiles(dir, domain, certificate);
        yaml += `  ${domain}:\n    tls: { certificate: "${files.certFile}", key: "${files.keyFile}" }\n`;
      }
      return yaml;
    },
    async start(address, hostsYaml, s2sExtra = '', { bidi = options.bidi ?? false, top = '' } = {}) {
      const server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["${address}"], port: 5269 }
s2s:
  min_level: trusted
${bidi ? '' : '  bidi: false\n'}  ca_files: ["${caFile}"]
  use_system_ca: false
${s2sExtra}
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
${top}
hosts:
${hostsYaml}`);
      servers.push(server);
      return server;
    },
    async loginUsers(server, domains) {
      for (const domain of domains) {
        await server.addUser('u', domain, 'secret');
        clients.set(domain, (await login(trustingCa(server), { username: 'u', password: 'secret', domain, resource: 'r' })).client);
      }
    },
    async stop() {
      for (const client of clients.values()) client.close();
      for (const server of servers) await server.stop();
    },
  };
}
