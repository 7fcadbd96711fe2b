/**
 * One DNS exchange with one resolver: a query over UDP, repeated over TCP when the answer comes
 * back truncated (RFC 1035 section 4.2, RFC 7766 section 5). A UDP datagram is taken as the
 * answer only when it comes from the resolver's address and port and carries the query's id
 * and question (RFC 5452 section 9.1); anything else is ignored and the wait goes on.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIP, createConnection } from 'node:net';
import * as packet from 'dns-packet';
import type { ResolverAddress } from '../net/resolver-address.ts';

export type ExchangeResult =
  | { kind: 'answer'; response: packet.DecodedPacket; transport: 'udp' | 'tcp' }
  | { kind: 'timeout' };

/** RFC 6891 section 6.2.5 and the DNS flag day 2020 advice: no fragmentation. */
export const UDP_PAYLOAD_SIZE = 1232;

/** The response answers this query: same id, a response, and the same single question. */
export function answersQuery(query: packet.Packet, response: packet.DecodedPacket): boolean {
  if (response.id !== query.id || response.type !== 'response') return false;
  const asked = query.questions?.[0];
  const echoed = response.questions ?? [];
  if (!asked || echoed.length !== 1) return false;
  const question = echoed[0]!;
  // RFC 4343: names compare without case (and RFC 5452 0x20 randomisation relies on the echo)
  return question.type === asked.type && (question.class ?? 'IN') === (asked.class ?? 'IN') && question.name.toLowerCase() === asked.name.toLowerCase();
}

/** UDP first; TCP when the UDP answer has TC set. `timeoutMs` bounds each transport's wait. */
export async function exchange(server: ResolverAddress, query: packet.Packet, timeoutMs: number): Promise<ExchangeResult> {
  const udp = await exchangeUdp(server, query, timeoutMs);
  if (udp === undefined) return { kind: 'timeout' };
  if (!udp.flag_tc) return { kind: 'answer', response: udp, transport: 'udp' };
  const tcp = await exchangeTcp(server, query, timeoutMs);
  return tcp === undefined ? { kind: 'timeout' } : { kind: 'answer', response: tcp, transport: 'tcp' };
}

function exchangeUdp(server: ResolverAddress, query: packet.Packet, timeoutMs: number): Promise<packet.DecodedPacket | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket(isIP(server.address) === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (response: packet.DecodedPacket | undefined): void => {
      // a send error may still be reported after the answer came: close only once
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(response);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.on('error', () => finish(undefined));
    socket.on('message', (message: Buffer, from: RemoteInfo) => {
      if (from.address !== server.address || from.port !== server.port) return;
      const response = decode(message);
      if (response && answersQuery(query, response)) finish(response);
    });
    socket.send(packet.encode(query), server.port, server.address, (error) => {
      if (error) finish(undefined);
    });
  });
}

/** RFC 1035 section 4.2.2: each message prefixed by its two-byte length. */
function exchangeTcp(server: ResolverAddress, query: packet.Packet, timeoutMs: number): Promise<packet.DecodedPacket | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: server.address, port: server.port });
    let received = Buffer.alloc(0);
    const finish = (response: packet.DecodedPacket | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(response);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.on('error', () => finish(undefined));
    socket.on('close', () => finish(undefined));
    socket.on('connect', () => socket.write(packet.streamEncode(query)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // one answer is at most 65535 bytes plus its length; the length field itself bounds it
      while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        const length = received.readUInt16BE(0);
        const response = decode(received.subarray(2, 2 + length));
        received = received.subarray(2 + length);
        if (response && answersQuery(query, response)) return finish(response);
      }
    });
  });
}

function decode(message: Buffer): packet.DecodedPacket | undefined {
  try {
    return packet.decode(message);
  } catch {
    return undefined;
  }
}
