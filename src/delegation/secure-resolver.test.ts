/**
 * The DNSSEC-aware stub resolver against a tiny DNS server written here with dns-packet: what a
 * query carries, how each response code and the AD bit map to a status, which datagrams are
 * ignored, truncation answered over TCP, and bounded retries.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import * as packet from 'dns-packet';
import { createSecureResolver, type SecureResolver } from './secure-resolver.ts';
import { answersQuery } from './dns-transport.ts';
import { parseResolverAddress } from '../net/resolver-address.ts';

type Handler = (query: packet.DecodedPacket, transport: 'udp' | 'tcp') => packet.Packet[];

const RCODE = { SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };

/** A reply to `query`: same id and question, QR set, with these flags and records. */
function reply(query: packet.DecodedPacket, options: { flags?: number; rcode?: number; answers?: packet.Answer[]; id?: number; name?: string } = {}): packet.Packet {
  const question = query.questions![0]!;
  return {
    type: 'response',
    id: options.id ?? query.id!,
    flags: (options.flags ?? 0) | packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (options.rcode ?? 0),
    questions: [{ ...question, name: options.name ?? question.name }],
    answers: options.answers ?? [],
  };
}

class FakeDns {
  udp!: Socket;
  tcp!: Server;
  port = 0;
  handler: Handler = () => [];
  readonly queries: { query: packet.DecodedPacket; transport: 'udp' | 'tcp' }[] = [];

  async start(): Promise<void> {
    this.udp = createSocket('udp4');
    this.udp.bind(0, '127.0.0.1');
    await once(this.udp, 'listening');
    this.port = this.udp.address().port;
    this.udp.on('message', (message, from) => {
      const query = packet.decode(message);
      this.queries.push({ query, transport: 'udp' });
      for (const response of this.handler(query, 'udp')) this.udp.send(packet.encode(response), from.port, from.address);
    });
    this.tcp = createServer((socket) => {
      socket.on('error', () => {});
      socket.on('data', (data) => {
        const query = packet.streamDecode(data) as packet.DecodedPacket;
        this.queries.push({ query, transport: 'tcp' });
        for (const response of this.handler(query, 'tcp')) socket.write(packet.streamEncode(response));
      });
    });
    this.tcp.listen(this.port, '127.0.0.1');
    await once(this.tcp, 'listening');
  }

  async stop(): Promise<void> {
    this.udp.close();
    await new Promise((resolve) => this.tcp.close(resolve));
  }

  resolver(options: { tries?: number; timeoutMs?: number } = {}): SecureResolver {
    return createSecureResolver({ servers: [`127.0.0.1:${this.port}`], timeoutMs: options.timeoutMs ?? 500, tries: options.tries ?? 2 });
  }
}

const SRV_NAME = '_xmpp-server._tcp.example.net';
const srvAnswer = (target: string, ttl = 300): packet.Answer => ({ type: 'SRV', name: SRV_NAME, ttl, data: { priority: 5, weight: 1, port: 5269, target } });

describe('DNSSEC-aware stub resolver', () => {
  const dns = new FakeDns();
  before(() => dns.start());
  after(() => dns.stop());

  test('asks with RD, AD and the EDNS0 DO bit, never CD, and a fresh id each time', async () => {
    dns.queries.length = 0;
    dns.handler = (query) => [reply(query)];
    await dns.resolver().srv(SRV_NAME);
    await dns.resolver().srv(SRV_NAME);
    const [first, second] = dns.queries.map((entry) => entry.query);
    assert.ok(first!.flag_rd && first!.flag_ad && !first!.flag_cd);
    const opt = first!.additionals!.find((record) => record.type === 'OPT') as packet.OptAnswer;
    assert.ok(opt.flag_do);
    assert.equal(opt.udpPayloadSize, 1232);
    assert.deepEqual(first!.questions, [{ name: SRV_NAME, type: 'SRV', class: 'IN' }]);
    assert.notEqual(first!.id, second!.id);
  });

  test('AD=1 with NOERROR is secure; the records come back as SRV records', async () => {
    dns.handler = (query) => [reply(query, { flags: packet.AUTHENTIC_DATA, answers: [srvAnswer('XMPP1.Host.NET.', 120), srvAnswer('xmpp2.host.net', 60)] })];
    const answer = await dns.resolver().srv(SRV_NAME);
    assert.equal(answer.status, 'secure');
    assert.equal(answer.authenticated, true);
    assert.equal(answer.ttl, 60);
    assert.deepEqual(answer.records, [
      { name: 'xmpp1.host.net', port: 5269, priority: 5, weight: 1 },
      { name: 'xmpp2.host.net', port: 5269, priority: 5, weight: 1 },
    ]);
  });

  test('AD=0 with NOERROR is insecure, with or without records', async () => {
    dns.handler = (query) => [reply(query, { answers: [srvAnswer('xmpp.example.net')] })];
    const answer = await dns.resolver().srv(SRV_NAME);
    assert.equal(answer.status, 'insecure');
    assert.equal(answer.records.length, 1);
    dns.handler = (query) => [reply(query)];
    assert.deepEqual(await dns.resolver().srv(SRV_NAME), { status: 'insecure', records: [], authenticated: false, ttl: 0 });
  });

  test('SERVFAIL is bogus, NXDOMAIN is nxdomain, REFUSED is a failure', async () => {
    dns.handler = (query) => [reply(query, { rcode: RCODE.SERVFAIL })];
    assert.equal((await dns.resolver().srv(SRV_NAME)).status, 'bogus');
    dns.handler = (query) => [reply(query, { rcode: RCODE.NXDOMAIN, flags: packet.AUTHENTIC_DATA })];
    const missing = await dns.resolver().srv(SRV_NAME);
    assert.deepEqual([missing.status, missing.authenticated], ['nxdomain', true]);
    dns.handler = (query) => [reply(query, { rcode: RCODE.REFUSED })];
    assert.equal((await dns.resolver().srv(SRV_NAME)).status, 'failed');
  });

  test('a datagram with another id or another question is ignored; the real answer is taken', async () => {
    dns.handler = (query) => [
      reply(query, { id: (query.id! + 1) % 65536, flags: packet.AUTHENTIC_DATA, answers: [srvAnswer('forged.example')] }),
      reply(query, { name: '_xmpp-server._tcp.other.example', flags: packet.AUTHENTIC_DATA, answers: [srvAnswer('forged.example')] }),
      reply(query, { answers: [srvAnswer('real.example')] }),
    ];
    const answer = await dns.resolver().srv(SRV_NAME);
    assert.equal(answer.status, 'insecure');
    assert.deepEqual(answer.records.map((record) => record.name), ['real.example']);
  });

  test('a truncated UDP answer is asked again over TCP', async () => {
    dns.queries.length = 0;
    dns.handler = (query, transport) =>
      transport === 'udp'
        ? [reply(query, { flags: packet.TRUNCATED_RESPONSE | packet.AUTHENTIC_DATA })]
        : [reply(query, { flags: packet.AUTHENTIC_DATA, answers: [srvAnswer('big.example')] })];
    const answer = await dns.resolver().srv(SRV_NAME);
    assert.deepEqual(dns.queries.map((entry) => entry.transport), ['udp', 'tcp']);
    assert.equal(answer.status, 'secure');
    assert.deepEqual(answer.records.map((record) => record.name), ['big.example']);
  });

  test('no answer: each try waits its timeout once, then the query fails', async () => {
    dns.queries.length = 0;
    dns.handler = () => [];
    const started = Date.now();
    const answer = await dns.resolver({ tries: 3, timeoutMs: 80 }).srv(SRV_NAME);
    const elapsed = Date.now() - started;
    assert.equal(answer.status, 'failed');
    assert.match(answer.reason!, /after 3 tries/);
    assert.equal(dns.queries.length, 3);
    assert.ok(elapsed >= 230 && elapsed < 1500, `took ${elapsed} ms`);
  });

  test('a CNAME chain is followed to the records, and TLSA and addresses are read', async () => {
    dns.handler = (query) => {
      const question = query.questions![0]!;
      if (question.type === 'TLSA') {
        return [reply(query, { flags: packet.AUTHENTIC_DATA, answers: [
          { type: 'CNAME', name: question.name, data: 'tlsa.alias.example' },
          { type: 'TLSA', name: 'tlsa.alias.example', ttl: 30, data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 7) } },
        ] })];
      }
      if (question.type === 'AAAA') return [reply(query, { answers: [{ type: 'AAAA', name: question.name, data: '2001:db8::1' }] })];
      return [reply(query, { answers: [{ type: 'A', name: 'unrelated.example', data: '192.0.2.9' }, { type: 'A', name: question.name, data: '192.0.2.1' }] })];
    };
    const resolver = dns.resolver();
    const tlsa = await resolver.tlsa('_5269._tcp.xmpp.example.net');
    assert.equal(tlsa.status, 'secure');
    assert.deepEqual(tlsa.records, [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 7) }]);
    assert.deepEqual((await resolver.a('xmpp.example.net')).records, ['192.0.2.1']);
    assert.deepEqual((await resolver.aaaa('xmpp.example.net')).records, ['2001:db8::1']);
  });
});

describe('resolver addresses and answer matching', () => {
  test('addresses are ip, ip:port or [ipv6]:port', () => {
    assert.deepEqual(parseResolverAddress('127.0.0.1'), { address: '127.0.0.1', port: 53 });
    assert.deepEqual(parseResolverAddress('127.0.0.53:5353'), { address: '127.0.0.53', port: 5353 });
    assert.deepEqual(parseResolverAddress('::1'), { address: '::1', port: 53 });
    assert.deepEqual(parseResolverAddress('[::1]:5300'), { address: '::1', port: 5300 });
    for (const bad of ['resolver.example', '127.0.0.1:0', '127.0.0.1:70000', '[::1', '']) assert.throws(() => parseResolverAddress(bad), /is not an IP address/);
  });

  test('no configured resolver, no DNSSEC resolver', () => {
    assert.throws(() => createSecureResolver({ servers: [] }), /at least one configured validating resolver/);
  });

  test('a response must be a response, with the id and the one question (name without case)', () => {
    const query: packet.Packet = { type: 'query', id: 7, questions: [{ name: 'a.example', type: 'SRV', class: 'IN' }] };
    const response = (overrides: Partial<packet.DecodedPacket>) => ({ ...(query as packet.DecodedPacket), type: 'response' as const, ...overrides });
    assert.ok(answersQuery(query, response({ questions: [{ name: 'A.Example', type: 'SRV', class: 'IN' }] })));
    assert.ok(!answersQuery(query, response({ type: 'query' })));
    assert.ok(!answersQuery(query, response({ id: 8 })));
    assert.ok(!answersQuery(query, response({ questions: [{ name: 'a.example', type: 'TLSA', class: 'IN' }] })));
    assert.ok(!answersQuery(query, response({ questions: [] })));
  });
});
