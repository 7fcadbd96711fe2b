/**
 * The sockets of links: TCP, or TLS from the first byte (XEP-0361 section 4.6) with both sides
 * presenting their certificate, as the link's connect setting says: this side connects out,
 * listens for the peer, or both.
 */
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type TlsOptions } from 'node:tls';
import { parseLinkAddress } from '../config/link-names.ts';
import type { LinkConfig, TlsSettings } from '../config/types.ts';
import { tlsOptions } from '../net/tls-settings.ts';

/** This side's certificate and the trust anchor the peer's must chain to, as Node's options. */
function tlsMaterial(config: LinkConfig, settings: TlsSettings): TlsOptions {
  const tls = config.tls!;
  return {
    ...tlsOptions(settings),
    cert: readFileSync(tls.certificate),
    key: readFileSync(tls.key),
    ...(tls.ca_file === undefined ? {} : { ca: readFileSync(tls.ca_file) }),
    // The identity check (identity.ts) decides, after the handshake: a pinned certificate needs no chain.
    rejectUnauthorized: false,
  };
}

/** Opens the link's connection to its peer; rejects after `timeoutMs`. */
export function connectOut(config: LinkConfig, settings: TlsSettings, timeoutMs: number): Promise<Socket> {
  const { host, port } = parseLinkAddress(config.address);
  return new Promise((resolve, reject) => {
    const socket: Socket = config.transport === 'tls' ? tlsConnect({ host, port, ...(tlsMaterial(config, settings) as ConnectionOptions) }) : tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection to ${config.address} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once(config.transport === 'tls' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/** Listens for the link's peer (on `address`, or on `listen` with connect: both); resolves with the listening server. */
export async function listenIn(config: LinkConfig, settings: TlsSettings, accept: (socket: Socket) => void): Promise<Server> {
  const { host, port } = parseLinkAddress(config.connect === 'both' ? config.listen! : config.address);
  const server: Server =
    config.transport === 'tls'
      ? createTlsServer({ ...tlsMaterial(config, settings), requestCert: true }, accept).on('tlsClientError', () => {})
      : createTcpServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return server;
}
