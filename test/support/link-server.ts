/**
 * An in-process Trellis server for link tests (docs/links.md): clients on 127.0.0.1, no
 * server-to-server listener, the given links and the rest of the YAML (peering, hosts).
 */
import { loginFederated, type FederatedServer } from './federation.ts';
import type { RawClient } from './raw-client.ts';
import { startTestServer, type TestServer } from './server.ts';

export function startLinkServer(links: string, rest: string): Promise<TestServer> {
  return startTestServer(`
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { enabled: false }
http: { enabled: false }
links:
${links}
${rest}`);
}

/** Logs `username@domain` in with resource "r" and sends initial presence. */
export async function loginAt(server: TestServer, domain: string, username: string): Promise<RawClient> {
  const client = await loginFederated(Object.assign(Object.create(server) as FederatedServer, { domain }), username);
  client.send('<presence/>');
  return client;
}
