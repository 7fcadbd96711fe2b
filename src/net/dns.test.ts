import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createDnsLookup, resolveServerTargets, type DnsLookup, type SrvRecord } from './dns.ts';

type Failure = 'ENOTFOUND' | 'ENODATA' | 'ETIMEOUT' | 'ESERVFAIL';

/**
 * An in-memory zone: keys are "SRV <name>", "A <host>" or "AAAA <host>"; a missing key is
 * NXDOMAIN, a string value fails the query with that code. Every query is recorded.
 */
function memoryLookup(zone: Record<string, SrvRecord[] | string[] | Failure>): DnsLookup & { queries: string[] } {
  const queries: string[] = [];
  const answer = async <T>(key: string): Promise<T[]> => {
    queries.push(key);
    const value = zone[key] ?? 'ENOTFOUND';
    if (typeof value === 'string') throw Object.assign(new Error(`${value} ${key}`), { code: value });
    return value as T[];
  };
  return {
    queries,
    resolveSrv: (name) => answer<SrvRecord>(`SRV ${name}`),
    resolve4: (host) => answer<string>(`A ${host}`),
    resolve6: (host) => answer<string>(`AAAA ${host}`),
  };
}

function srv(name: string, port: number, priority = 10, weight = 0): SrvRecord {
  return { name, port, priority, weight };
}

const XMPP = '_xmpp-server._tcp.example.net';
const XMPPS = '_xmpps-server._tcp.example.net';

describe('resolving a peer server (RFC 6120 section 3.2, XEP-0368)', () => {
  test('SRV targets in priority order, each with IPv4 then IPv6 addresses', async () => {
    const lookup = memoryLookup({
      [`SRV ${XMPP}`]: [srv('backup.example.net', 5270, 20), srv('xmpp.example.net', 5269, 10)],
      'A xmpp.example.net': ['192.0.2.1', '192.0.2.2'],
      'AAAA xmpp.example.net': ['2001:db8::1'],
      'AAAA backup.example.net': ['2001:db8::2'],
    });
    const resolution = await resolveServerTargets('example.net', lookup);
    assert.deepEqual(resolution, {
      kind: 'targets',
      fromSrv: true,
      targets: [
        { host: 'xmpp.example.net', port: 5269, directTls: false, addresses: ['192.0.2.1', '192.0.2.2', '2001:db8::1'] },
        { host: 'backup.example.net', port: 5270, directTls: false, addresses: ['2001:db8::2'] },
      ],
    });
    assert.ok(lookup.queries.includes(`SRV ${XMPPS}`), 'direct TLS records are asked for too');
  });

  test('direct TLS and STARTTLS records are ordered as one set', async () => {
    const lookup = memoryLookup({
      [`SRV ${XMPPS}`]: [srv('tls.example.net', 5223, 5), srv('tls-backup.example.net', 5223, 30)],
      [`SRV ${XMPP}`]: [srv('plain.example.net', 5269, 10)],
      'A tls.example.net': ['192.0.2.1'],
      'A tls-backup.example.net': ['192.0.2.3'],
      'A plain.example.net': ['192.0.2.2'],
    });
    const resolution = await resolveServerTargets('example.net', lookup);
    assert.equal(resolution.kind, 'targets');
    assert.deepEqual(
      resolution.targets.map(({ host, port, directTls }) => [host, port, directTls]),
      [
        ['tls.example.net', 5223, true],
        ['plain.example.net', 5269, false],
        ['tls-backup.example.net', 5223, true],
      ],
    );
  });

  test('both services at one priority share the weighted draw', async () => {
    const lookup = memoryLookup({
      [`SRV ${XMPPS}`]: [srv('tls.example.net', 5223, 10, 1)],
      [`SRV ${XMPP}`]: [srv('plain.example.net', 5269, 10, 1)],
      'A tls.example.net': ['192.0.2.1'],
      'A plain.example.net': ['192.0.2.2'],
    });
    const low = await resolveServerTargets('example.net', lookup, () => 0);
    const high = await resolveServerTargets('example.net', lookup, () => 0.99);
    assert.equal(low.kind === 'targets' && low.targets[0]!.host, 'tls.example.net');
    assert.equal(high.kind === 'targets' && high.targets[0]!.host, 'plain.example.net');
  });

  for (const dot of ['.', '']) {
    test(`a lone "${dot}" _xmpp-server target means no service: no address lookups at all`, async () => {
      const lookup = memoryLookup({ [`SRV ${XMPP}`]: [srv(dot, 0)], 'A example.net': ['192.0.2.1'] });
      assert.deepEqual(await resolveServerTargets('example.net', lookup), { kind: 'not-found', reason: 'no-service' });
      assert.deepEqual(lookup.queries.filter((query) => !query.startsWith('SRV ')), []);
    });
  }

  test('a lone "." _xmpps-server target: the _xmpp-server records are used', async () => {
    const lookup = memoryLookup({
      [`SRV ${XMPPS}`]: [srv('.', 0)],
      [`SRV ${XMPP}`]: [srv('xmpp.example.net', 5269)],
      'A xmpp.example.net': ['192.0.2.1'],
    });
    const resolution = await resolveServerTargets('example.net', lookup);
    assert.deepEqual(resolution, {
      kind: 'targets',
      fromSrv: true,
      targets: [{ host: 'xmpp.example.net', port: 5269, directTls: false, addresses: ['192.0.2.1'] }],
    });
  });

  test('a lone "." _xmpps-server target and no _xmpp-server records: no A/AAAA fallback', async () => {
    const lookup = memoryLookup({ [`SRV ${XMPPS}`]: [srv('.', 0)], 'A example.net': ['192.0.2.1'] });
    assert.deepEqual(await resolveServerTargets('example.net', lookup), { kind: 'not-found', reason: 'no-service' });
    assert.ok(!lookup.queries.includes('A example.net'));
  });

  test('a "." among other records is not a target', async () => {
    const lookup = memoryLookup({
      [`SRV ${XMPP}`]: [srv('.', 0, 1), srv('xmpp.example.net', 5269, 2)],
      'A xmpp.example.net': ['192.0.2.1'],
    });
    const resolution = await resolveServerTargets('example.net', lookup);
    assert.equal(resolution.kind === 'targets' && resolution.targets.length, 1);
  });

  for (const absence of ['ENOTFOUND', 'ENODATA'] as const) {
    test(`no SRV records (${absence}): the domain itself on port 5269, STARTTLS`, async () => {
      const lookup = memoryLookup({
        [`SRV ${XMPPS}`]: absence,
        [`SRV ${XMPP}`]: absence,
        'A example.net': ['192.0.2.7'],
        'AAAA example.net': ['2001:db8::7'],
      });
      assert.deepEqual(await resolveServerTargets('example.net', lookup), {
        kind: 'targets',
        fromSrv: false,
        targets: [{ host: 'example.net', port: 5269, directTls: false, addresses: ['192.0.2.7', '2001:db8::7'] }],
      });
    });
  }

  test('no SRV records and no addresses: not found', async () => {
    const lookup = memoryLookup({ 'AAAA example.net': 'ENODATA' });
    assert.deepEqual(await resolveServerTargets('example.net', lookup), { kind: 'not-found', reason: 'no-address' });
  });

  test('SRV answered but no target has an address: not found, and no fallback to the domain', async () => {
    const lookup = memoryLookup({ [`SRV ${XMPP}`]: [srv('gone.example.net', 5269)], 'A example.net': ['192.0.2.1'] });
    assert.deepEqual(await resolveServerTargets('example.net', lookup), { kind: 'not-found', reason: 'no-address' });
    assert.ok(!lookup.queries.includes('A example.net'));
    assert.ok(!lookup.queries.includes('AAAA example.net'));
  });

  test('targets without addresses are left out, the others keep their order', async () => {
    const lookup = memoryLookup({
      [`SRV ${XMPP}`]: [srv('first.example.net', 5269, 1), srv('gone.example.net', 5269, 2), srv('last.example.net', 5269, 3)],
      'A first.example.net': ['192.0.2.1'],
      'AAAA last.example.net': ['2001:db8::3'],
    });
    const resolution = await resolveServerTargets('example.net', lookup);
    assert.deepEqual(resolution.kind === 'targets' && resolution.targets.map((target) => target.host), ['first.example.net', 'last.example.net']);
  });

  test('an unanswered SRV query falls back to the domain when that resolves', async () => {
    const lookup = memoryLookup({ [`SRV ${XMPP}`]: 'ETIMEOUT', [`SRV ${XMPPS}`]: 'ESERVFAIL', 'A example.net': ['192.0.2.1'] });
    const resolution = await resolveServerTargets('example.net', lookup);
    assert.deepEqual(resolution.kind === 'targets' && resolution.targets, [
      { host: 'example.net', port: 5269, directTls: false, addresses: ['192.0.2.1'] },
    ]);
  });

  test('unknown answers that leave nothing to connect to are a DNS failure, not a definite absence', async () => {
    const srvTimeout = memoryLookup({ [`SRV ${XMPP}`]: 'ETIMEOUT' });
    assert.deepEqual(await resolveServerTargets('example.net', srvTimeout), { kind: 'not-found', reason: 'dns-failure' });
    const addressTimeout = memoryLookup({ [`SRV ${XMPP}`]: [srv('xmpp.example.net', 5269)], 'A xmpp.example.net': 'ESERVFAIL' });
    assert.deepEqual(await resolveServerTargets('example.net', addressTimeout), { kind: 'not-found', reason: 'dns-failure' });
  });

  test('names are compared without case or trailing dot', async () => {
    const lookup = memoryLookup({
      [`SRV ${XMPP}`]: [srv('XMPP.Example.NET.', 5269)],
      'A xmpp.example.net': ['192.0.2.1', '192.0.2.1'],
    });
    const resolution = await resolveServerTargets('Example.NET.', lookup);
    assert.deepEqual(resolution.kind === 'targets' && resolution.targets, [
      { host: 'xmpp.example.net', port: 5269, directTls: false, addresses: ['192.0.2.1'] },
    ]);
  });

  test('an IP address domain is used as is, without DNS', async () => {
    const lookup = memoryLookup({});
    for (const [domain, address] of [['192.0.2.9', '192.0.2.9'], ['[2001:db8::9]', '2001:db8::9']] as const) {
      assert.deepEqual(await resolveServerTargets(domain, lookup), {
        kind: 'targets',
        fromSrv: false,
        targets: [{ host: address, port: 5269, directTls: false, addresses: [address] }],
      });
    }
    assert.deepEqual(lookup.queries, []);
  });
});

describe('the node:dns lookup', () => {
  test('asks the configured server and gives up after the configured timeout', async () => {
    const silent = createSocket('udp4');
    silent.bind(0, '127.0.0.1');
    await once(silent, 'listening');
    let asked = false;
    silent.on('message', () => (asked = true));
    try {
      const lookup = createDnsLookup({ servers: [`127.0.0.1:${silent.address().port}`], timeoutMs: 50, tries: 1 });
      const started = Date.now();
      await assert.rejects(lookup.resolveSrv('_xmpp-server._tcp.example.net'), { code: 'ETIMEOUT' });
      assert.ok(Date.now() - started < 2000);
      assert.ok(asked, 'the query went to the configured server');
    } finally {
      silent.close();
    }
  });

  test('a server address that is not an IP address is refused', () => {
    assert.throws(() => createDnsLookup({ servers: ['dns.example.net'] }));
  });
});
