/**
 * POSH verification (RFC 7711) against an HTTPS server started here with a test CA: fingerprint
 * match and mismatch, one reference followed and no second one, expiry and caching, redirects
 * (https only, at most ten), the server certificate check, and the size and time bounds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestCa } from '../../test/support/lab/ca.ts';
import { makeCertificate, type TestCertificate } from '../../test/support/certs.ts';
import { fingerprintsDocument, referenceDocument } from './posh-document.ts';
import { PoshVerifier, type PoshOptions } from './posh.ts';

type Route = (request: IncomingMessage, response: ServerResponse) => void;

const WELL_KNOWN = '/.well-known/posh/xmpp-server.json';
/** names the HTTPS server's certificate covers; anything else fails the host check */
const SERVED = ['a.example', 'b.example', 'c.example', 'd.example', 'hosting.example', 'big.example', 'slow.example'];

const json = (body: string): Route => (_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(body);
};
const redirect = (location: string): Route => (_request, response) => {
  response.writeHead(302, { location });
  response.end();
};

describe('POSH over HTTPS', () => {
  let server: Server;
  let port = 0;
  let caPem = '';
  let peer: TestCertificate;
  let stranger: TestCertificate;
  const routes = new Map<string, Route>();
  const requests: string[] = [];

  before(async () => {
    const ca = await createTestCa('POSH Test CA');
    caPem = ca.certPem;
    const { certPem, keyPem } = await ca.issue({ names: SERVED });
    server = createServer({ cert: certPem, key: keyPem }, (request, response) => {
      const key = `${request.headers.host}${request.url}`;
      requests.push(key);
      const route = routes.get(key);
      if (route) return route(request, response);
      response.writeHead(404);
      response.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    peer = await makeCertificate({ commonName: 'hosting.example', dnsIds: ['hosting.example'] });
    stranger = await makeCertificate({ commonName: 'other.example', dnsIds: ['other.example'] });
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const verifier = (options: PoshOptions = {}) =>
    new PoshVerifier({ ca: [caPem], connectTo: () => ({ host: '127.0.0.1', port }), timeoutMs: 2000, ...options });
  const serve = (host: string, route: Route, path = WELL_KNOWN) => routes.set(`${host}${path}`, route);
  const reset = () => {
    routes.clear();
    requests.length = 0;
  };

  test('a fingerprints document with a matching sha-256: proven', async () => {
    reset();
    serve('a.example', json(JSON.stringify({ fingerprints: [{ 'sha-256': fingerprintsDocumentHash(peer) }], expires: 60 })));
    const result = await verifier().verify('a.example', [peer.node]);
    assert.deepEqual([result.proven, result.method], [true, 'posh'], result.reason);
  });

  test('no matching fingerprint: refused; no document (404): refused', async () => {
    reset();
    serve('a.example', json(fingerprintsDocument([peer.der], 60)));
    const mismatch = await verifier().verify('a.example', [stranger.node]);
    assert.equal(mismatch.proven, false);
    assert.match(mismatch.reason, /matches no fingerprint at https:\/\/a\.example\//);
    const absent = await verifier().verify('b.example', [peer.node]);
    assert.match(absent.reason, /publishes no POSH document/);
  });

  test('a reference is followed once; the cache keeps the result for the smaller expires', async () => {
    reset();
    serve('a.example', json(referenceDocument(`https://hosting.example/posh/a.json`, 300)));
    serve('hosting.example', json(fingerprintsDocument([peer.der], 100)), '/posh/a.json');
    let now = Date.now();
    const posh = verifier({ now: () => now });
    assert.equal((await posh.verify('a.example', [peer.node])).method, 'posh');
    assert.deepEqual(requests, [`a.example${WELL_KNOWN}`, 'hosting.example/posh/a.json']);
    now += 99_000;
    assert.equal((await posh.verify('a.example', [peer.node])).method, 'posh');
    assert.equal(requests.length, 2, 'served from the cache');
    now += 2_000;
    await posh.lookup('a.example');
    assert.equal(requests.length, 4, 'fetched again once the reference-side expires (100 s) passed');
  });

  test('a reference to another reference fails', async () => {
    reset();
    serve('a.example', json(referenceDocument('https://b.example/posh.json', 300)));
    serve('b.example', json(referenceDocument('https://c.example/posh.json', 300)), '/posh.json');
    serve('c.example', json(fingerprintsDocument([peer.der], 300)), '/posh.json');
    const result = await verifier().verify('a.example', [peer.node]);
    assert.equal(result.proven, false);
    assert.match(result.reason, /another reference; only one is followed/);
    assert.ok(!requests.includes('c.example/posh.json'));
  });

  test('expires 0 makes the document invalid, in a fingerprints document or in a reference', async () => {
    reset();
    serve('a.example', json(JSON.stringify({ fingerprints: [{ 'sha-256': fingerprintsDocumentHash(peer) }], expires: 0 })));
    serve('b.example', json(JSON.stringify({ url: 'https://hosting.example/p.json', expires: 0 })));
    serve('hosting.example', json(fingerprintsDocument([peer.der], 60)), '/p.json');
    for (const domain of ['a.example', 'b.example']) {
      const result = await verifier().verify(domain, [peer.node]);
      assert.equal(result.proven, false);
      assert.match(result.reason, /"expires" is 0/);
    }
  });

  test('never cached for ever: max cache time caps a long expires; no expires, no caching', async () => {
    reset();
    serve('a.example', json(fingerprintsDocument([peer.der], 10 * 365 * 86400)));
    serve('b.example', json(JSON.stringify({ fingerprints: [{ 'sha-256': fingerprintsDocumentHash(peer) }] })));
    let now = Date.now();
    const posh = verifier({ now: () => now, maxCacheSeconds: 3600 });
    await posh.lookup('a.example');
    await posh.lookup('b.example');
    await posh.lookup('b.example');
    assert.equal(requests.filter((request) => request.startsWith('b.example')).length, 2);
    now += 3601_000;
    await posh.lookup('a.example');
    assert.equal(requests.filter((request) => request.startsWith('a.example')).length, 2);
  });

  test('the cache holds at most cache_entries documents', async () => {
    reset();
    for (const domain of ['a.example', 'b.example', 'c.example']) serve(domain, json(fingerprintsDocument([peer.der], 600)));
    const posh = verifier({ cacheEntries: 2 });
    for (const domain of ['a.example', 'b.example', 'c.example']) await posh.lookup(domain);
    assert.equal(posh.cacheSize, 2);
  });

  test('an expired certificate is refused, whatever the document says', async () => {
    reset();
    const expired = await makeCertificate({ commonName: 'hosting.example', notBefore: new Date(Date.now() - 10 * 86400_000), notAfter: new Date(Date.now() - 86400_000) });
    serve('a.example', json(fingerprintsDocument([expired.der], 60)));
    const result = await verifier().verify('a.example', [expired.node]);
    assert.equal(result.proven, false);
    assert.match(result.reason, /not valid now/);
  });

  test('an http redirect is refused', async () => {
    reset();
    serve('a.example', redirect('http://b.example/posh.json'));
    const result = await verifier().verify('a.example', [peer.node]);
    assert.equal(result.proven, false);
    assert.match(result.reason, /redirects to http:\/\/b\.example\/posh\.json, which is not https/);
  });

  test('ten https redirects are followed, an eleventh is refused', async () => {
    reset();
    serve('a.example', redirect('/hop/1'));
    serve('b.example', redirect('/hop/1'));
    for (let hop = 1; hop <= 10; hop++) {
      serve('a.example', hop < 10 ? redirect(`/hop/${hop + 1}`) : json(fingerprintsDocument([peer.der], 60)), `/hop/${hop}`);
      serve('b.example', redirect(`https://b.example/hop/${hop + 1}`), `/hop/${hop}`);
    }
    serve('b.example', json(fingerprintsDocument([peer.der], 60)), '/hop/11');
    assert.equal((await verifier().verify('a.example', [peer.node])).method, 'posh');
    const tooMany = await verifier().verify('b.example', [peer.node]);
    assert.equal(tooMany.proven, false);
    assert.match(tooMany.reason, /more than 10 redirects/);
  });

  test('the HTTPS server must present a certificate for the domain, from a trusted CA', async () => {
    reset();
    serve('other.example', json(fingerprintsDocument([peer.der], 60)));
    const wrongName = await verifier().verify('other.example', [peer.node]);
    assert.equal(wrongName.proven, false);
    assert.match(wrongName.reason, /altnames|Hostname/i);
    serve('a.example', json(fingerprintsDocument([peer.der], 60)));
    const untrusted = await new PoshVerifier({ connectTo: () => ({ host: '127.0.0.1', port }), timeoutMs: 2000 }).verify('a.example', [peer.node]);
    assert.equal(untrusted.proven, false);
    assert.match(untrusted.reason, /certificate/i);
  });

  test('a document over max_bytes, and a server that does not answer in time, fail', async () => {
    reset();
    serve('big.example', json(JSON.stringify({ fingerprints: [{ 'sha-256': fingerprintsDocumentHash(peer) }], padding: 'x'.repeat(5000) })));
    serve('slow.example', () => {});
    const big = await verifier({ maxBytes: 1024 }).verify('big.example', [peer.node]);
    assert.match(big.reason, /larger than 1024 bytes/);
    const started = Date.now();
    const slow = await verifier({ timeoutMs: 300 }).verify('slow.example', [peer.node]);
    assert.match(slow.reason, /timed out/);
    assert.ok(Date.now() - started < 2000);
  });

  test('concurrent checks of one domain share one fetch', async () => {
    reset();
    serve('a.example', json(fingerprintsDocument([peer.der], 60)));
    const posh = verifier();
    const results = await Promise.all([1, 2, 3].map(() => posh.verify('a.example', [peer.node])));
    assert.ok(results.every((result) => result.proven));
    assert.equal(requests.length, 1);
  });
});

function fingerprintsDocumentHash(certificate: TestCertificate): string {
  return (JSON.parse(fingerprintsDocument([certificate.der], 1)) as { fingerprints: Record<string, string>[] }).fingerprints[0]!['sha-256']!;
}
