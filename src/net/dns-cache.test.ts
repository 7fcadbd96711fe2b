import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import { ABSENCE_TTL_SECONDS, DnsAddressCache, MAX_CACHED_TTL_SECONDS, type AddressWithTtl } from './dns-cache.ts';
import { createDnsLookup } from './dns-lookup.ts';

/** A clock the test moves, and a query that counts how often it is asked. */
function setUp(answer: () => Promise<AddressWithTtl[]>, maxEntries = 100) {
  let now = 1_000_000;
  const cache = new DnsAddressCache(maxEntries, () => now);
  let asked = 0;
  const query = () => {
    asked += 1;
    return answer();
  };
  return {
    cache,
    query,
    asked: () => asked,
    advance: (seconds: number) => (now += seconds * 1000),
  };
}

const noData = () => Promise.reject(Object.assign(new Error('queryA ENODATA'), { code: 'ENODATA' }));

describe('the DNS address cache', () => {
  test('an answer is reused until its shortest TTL runs out', async () => {
    const { cache, query, asked, advance } = setUp(async () => [{ address: '192.0.2.1', ttl: 300 }, { address: '192.0.2.2', ttl: 120 }]);
    assert.deepEqual(await cache.addresses('A', 'xmpp.example.net', query), ['192.0.2.1', '192.0.2.2']);
    advance(119);
    assert.deepEqual(await cache.addresses('A', 'XMPP.example.net.', query), ['192.0.2.1', '192.0.2.2']);
    assert.equal(asked(), 1, 'names compare without case or trailing dot');
    advance(1);
    await cache.addresses('A', 'xmpp.example.net', query);
    assert.equal(asked(), 2);
  });

  test('a TTL above an hour counts as an hour; TTL 0 is not kept', async () => {
    const long = setUp(async () => [{ address: '192.0.2.1', ttl: 86_400 }]);
    await long.cache.addresses('A', 'a.example', long.query);
    long.advance(MAX_CACHED_TTL_SECONDS);
    await long.cache.addresses('A', 'a.example', long.query);
    assert.equal(long.asked(), 2);
    const zero = setUp(async () => [{ address: '192.0.2.1', ttl: 0 }]);
    await zero.cache.addresses('A', 'a.example', zero.query);
    await zero.cache.addresses('A', 'a.example', zero.query);
    assert.equal(zero.asked(), 2);
  });

  test('NODATA and NXDOMAIN are kept for a minute and rejected again with the same code', async () => {
    for (const code of ['ENODATA', 'ENOTFOUND']) {
      const { cache, query, asked, advance } = setUp(() => Promise.reject(Object.assign(new Error(code), { code })));
      await assert.rejects(cache.addresses('AAAA', 'a.example', query), { code });
      advance(ABSENCE_TTL_SECONDS - 1);
      await assert.rejects(cache.addresses('AAAA', 'a.example', query), { code });
      assert.equal(asked(), 1);
      advance(1);
      await assert.rejects(cache.addresses('AAAA', 'a.example', query), { code });
      assert.equal(asked(), 2);
    }
  });

  test('a timeout or SERVFAIL is not kept', async () => {
    for (const code of ['ETIMEOUT', 'ESERVFAIL']) {
      const { cache, query, asked } = setUp(() => Promise.reject(Object.assign(new Error(code), { code })));
      await assert.rejects(cache.addresses('A', 'a.example', query), { code });
      await assert.rejects(cache.addresses('A', 'a.example', query), { code });
      assert.equal(asked(), 2);
      assert.equal(cache.size, 0);
    }
  });

  test('A and AAAA are separate; concurrent questions share one query', async () => {
    const { cache, query, asked } = setUp(async () => [{ address: '192.0.2.1', ttl: 60 }]);
    await Promise.all([cache.addresses('A', 'a.example', query), cache.addresses('A', 'a.example', query), cache.addresses('AAAA', 'a.example', query)]);
    assert.equal(asked(), 2);
  });

  test('when full the oldest entry goes; size 0 keeps nothing', async () => {
    const { cache, query, asked } = setUp(async () => [{ address: '192.0.2.1', ttl: 60 }], 2);
    for (const host of ['a.example', 'b.example', 'c.example']) await cache.addresses('A', host, query);
    assert.equal(cache.size, 2);
    await cache.addresses('A', 'c.example', query);
    assert.equal(asked(), 3);
    await cache.addresses('A', 'a.example', query);
    assert.equal(asked(), 4);
    const off = setUp(noData, 0);
    await assert.rejects(off.cache.addresses('A', 'a.example', off.query));
    await assert.rejects(off.cache.addresses('A', 'a.example', off.query));
    assert.equal(off.asked(), 2);
  });
});

/**
 * A DNS server for one name (RFC 1035 section 4): A queries get one record with TTL 300,
 * AAAA queries get NODATA, other names NXDOMAIN. Counts the questions per type.
 */
async function startDnsServer(name: string, address: string) {
  const socket = createSocket('udp4');
  const asked: Record<string, number> = {};
  socket.on('message', (query: Buffer, peer: RemoteInfo) => {
    let offset = 12;
    const labels: string[] = [];
    while (query[offset]! > 0) {
      labels.push(query.subarray(offset + 1, offset + 1 + query[offset]!).toString('latin1'));
      offset += query[offset]! + 1;
    }
    const type = query.readUInt16BE(offset + 1);
    const question = query.subarray(12, offset + 5);
    const typeName = type === 1 ? 'A' : type === 28 ? 'AAAA' : String(type);
    asked[typeName] = (asked[typeName] ?? 0) + 1;
    const known = labels.join('.') === name;
    const answers = known && type === 1 ? 1 : 0;
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers, 6);
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0);
    record.writeUInt16BE(1, 2);
    record.writeUInt16BE(1, 4);
    record.writeUInt32BE(300, 6);
    record.writeUInt16BE(4, 10);
    address.split('.').forEach((byte, index) => record.writeUInt8(Number(byte), 12 + index));
    socket.send(Buffer.concat([header, question, ...(answers ? [record] : [])]), peer.port, peer.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { server: `127.0.0.1:${socket.address().port}`, asked, close: () => socket.close() };
}

describe('the node:dns lookup with its cache', () => {
  test('asks the resolver once for an address and once for its absence', async () => {
    const dns = await startDnsServer('xmpp.example.net', '192.0.2.7');
    try {
      const lookup = createDnsLookup({ servers: [dns.server], timeoutMs: 1000, tries: 1 });
      for (let round = 0; round < 3; round++) {
        assert.deepEqual(await lookup.resolve4('xmpp.example.net'), ['192.0.2.7']);
        await assert.rejects(lookup.resolve6('xmpp.example.net'), { code: 'ENODATA' });
      }
      assert.deepEqual(dns.asked, { A: 1, AAAA: 1 });
      const uncached = createDnsLookup({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheEntries: 0 });
      await uncached.resolve4('xmpp.example.net');
      await uncached.resolve4('xmpp.example.net');
      assert.equal(dns.asked.A, 3);
    } finally {
      dns.close();
    }
  });
});
