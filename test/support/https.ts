/**
 * HTTP requests to a test server's HTTP listener over 127.0.0.1 with the Host (and SNI) a test
 * names, verifying TLS against the server's generated certificate.
 */
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { readFile } from 'node:fs/promises';
import { startTestServer, type TestServer } from './server.ts';

export interface WebTestServer {
  server: TestServer;
  /** the HTTPS listener's port on 127.0.0.1 */
  port: number;
  /** the generated certificate of localhost, to verify the listener with */
  ca: Buffer;
}

/** A test server with the HTTPS listener on 127.0.0.1 (a system-chosen port); `yaml` adds sections. */
export async function startWebTestServer(yaml = '', http = ''): Promise<WebTestServer> {
  const server = await startTestServer(`
http:
  enabled: true
  addresses: ["127.0.0.1"]
  port: 0
${http}
${yaml}`);
  return { server, port: server.server.listening.http[0]!.port, ca: await readFile(server.certificateFile('localhost')) };
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpCall {
  port: number;
  path: string;
  /** the Host header and TLS server name */
  host: string;
  /** the TLS server name when it is not `host` */
  servername?: string;
  method?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** the CA to verify with; none: plain HTTP */
  ca?: Buffer;
}

export function httpCall(call: HttpCall): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const options = {
      host: '127.0.0.1',
      port: call.port,
      path: call.path,
      method: call.method ?? 'GET',
      headers: { Host: `${call.host}:${call.port}`, ...call.headers },
      ...(call.ca ? { ca: call.ca, servername: call.servername ?? call.host } : {}),
    };
    const request = (call.ca ? httpsRequest : httpRequest)(options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(call.body);
  });
}

/** GET of an absolute URL whose host resolves to 127.0.0.1 in tests. */
export function httpGetUrl(url: string, ca: Buffer): Promise<HttpAnswer> {
  const parsed = new URL(url);
  return httpCall({ port: Number(parsed.port), path: parsed.pathname + parsed.search, host: parsed.hostname, ca: parsed.protocol === 'https:' ? ca : undefined });
}
