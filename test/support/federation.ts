/**
 * Two (or more) Trellis servers that federate on loopback without DNS: each hosts a domain that
 * is an IPv4 literal (127.0.0.N), which RFC 6120 section 3.2 lets a server reach directly on
 * port 5269. Each server listens for servers on its own address, so files using distinct
 * addresses can run side by side.
 */
import { authenticate } from './login.ts';
import { RawClient, streamHeader } from './raw-client.ts';
import { startTestServer, type TestServer } from './server.ts';

export interface FederatedServer extends TestServer {
  domain: string;
}

/** Starts a server for the domain `address` (e.g. "127.0.0.41"); `extraYaml` adds top-level sections. */
export async function startFederatedServer(address: string, extraYaml = '', listenersYaml = ''): Promise<FederatedServer> {
  return startServerAt(address, address, extraYaml, listenersYaml);
}

/**
 * Starts a server listening for servers on `address` and hosting `domain`, which may be a name
 * no DNS knows (others reach it by a route of s2s.peering); `extraYaml` adds top-level sections.
 */
export async function startServerAt(address: string, domain: string, extraYaml = '', listenersYaml = ''): Promise<FederatedServer> {
  const server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["${address}"], port: 5269 }
${listenersYaml}
hosts:
  ${domain}: {}
${extraYaml}`);
  return Object.assign(server, { domain });
}

/**
 * Logs a user in on a federated server over STARTTLS with resource "r". The certificate is not
 * checked: it names an IP address, and these tests are about the server-to-server side.
 */
export async function loginFederated(server: FederatedServer, username: string, password = 'secret'): Promise<RawClient> {
  const client = await RawClient.connect(server.port);
  client.send(streamHeader(server.domain));
  await client.waitFor('</stream:features>');
  client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  await client.waitFor('<proceed');
  await client.startTls(undefined, server.domain);
  client.send(streamHeader(server.domain));
  await client.waitFor('</stream:features>');
  await authenticate(client, { username, password, domain: server.domain, resource: 'r' });
  return client;
}
