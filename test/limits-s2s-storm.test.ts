/**
 * A peer that reconnects to the server port in a loop, as jabberd2 2.7 did (its connections
 * failed right after TLS and it opened the next one at once), here ten loops at once: after a
 * burst of `limits.s2s_new_connections.per_address` its address is refused at accept for refusal
 * periods that double, each start logged and every refusal counted; the first refused
 * connections are held unanswered until the period ends, the rest refused at once (on the direct
 * TLS port before the handshake). Meanwhile a well-behaved Trellis peer on another address
 * exchanges messages with this server both ways.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { adminRequest } from '../src/admin/client.ts';
import { loginFederated, startFederatedServer, type FederatedServer } from './support/federation.ts';
import { RawClient } from './support/raw-client.ts';

const STORM_ADDRESS = '127.0.0.103';
const STORM_MS = 4500;
const LOOPS = 10;

/** One connection of the storm: a server stream header, the first answer, then gone at once. */
async function stormConnection(server: FederatedServer): Promise<'admitted' | 'refused' | 'held'> {
  const client = await RawClient.connect(5269, server.domain, STORM_ADDRESS);
  const started = Date.now();
  try {
    client.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='${server.domain}' from='storm.example' version='1.0'>`);
    const answer = await client.waitFor(/<\/stream:features>|<\/stream:error>/);
    if (answer.includes('</stream:features>')) return 'admitted';
    assert.match(answer, new RegExp(`<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text[^>]*>too many new connections from ${STORM_ADDRESS.replaceAll('.', '\\.')} \\(limits\\.s2s_new_connections: 5 per 60 s\\); refused until `));
    // Held ones are answered when the refusal period (1 s, then 2 s) ends.
    return Date.now() - started >= 900 ? 'held' : 'refused';
  } finally {
    client.close();
  }
}

/** A direct TLS connection (XEP-0368) from the storm's address: whether the handshake completed. */
async function directTlsHandshake(server: FederatedServer): Promise<boolean> {
  const raw = tcpConnect({ host: server.domain, port: server.server.listening.s2sDirectTls[0]!.port, localAddress: STORM_ADDRESS });
  const socket = tlsConnect({ socket: raw, rejectUnauthorized: false, ALPNProtocols: ['xmpp-server'] });
  const done = await new Promise<boolean>((resolve) => {
    socket.once('secureConnect', () => resolve(true));
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
  socket.destroy();
  return done;
}

async function metric(server: FederatedServer, name: RegExp): Promise<number> {
  const answer = await adminRequest(server.server.adminSocket!, 'GET', '/metrics');
  const line = answer.body.split('\n').find((candidate) => name.test(candidate));
  assert.ok(line, `no metric ${name} in:\n${answer.body}`);
  return Number(line.split(' ').at(-1));
}

describe('a storm of server connections from one address', () => {
  let a: FederatedServer;
  let b: FederatedServer;
  before(async () => {
    a = await startFederatedServer(
      '127.0.0.101',
      `
s2s: { min_level: encrypted }
limits: { s2s_new_connections: { per_address: 5, window: 60, backoff: 1, backoff_max: 2, held_per_address: 4 } }`,
      '  s2s_direct_tls: { enabled: true, addresses: ["127.0.0.101"], port: 0 }',
    );
    b = await startFederatedServer('127.0.0.102', 's2s: { min_level: encrypted }');
    await a.addUser('alice', a.domain, 'secret');
    await b.addUser('bob', b.domain, 'secret');
  });
  after(async () => {
    await a.stop();
    await b.stop();
  });

  test('is refused after its burst, in periods that double, while another peer federates both ways', async () => {
    const outcomes = { admitted: 0, refused: 0, held: 0 };
    let refusingDuringStorm = 0;
    let heldDuringStorm = 0;
    let directTlsDuringStorm: boolean | undefined;
    const loop = async (): Promise<void> => {
      for (const end = Date.now() + STORM_MS; Date.now() < end; ) {
        outcomes[await stormConnection(a)]++;
        if (outcomes.refused === 100) {
          refusingDuringStorm = await metric(a, /^trellis_s2s_addresses_refused /);
          heldDuringStorm = await metric(a, /^trellis_s2s_connections_held /);
          // On the direct TLS port the address is dropped before the handshake.
          directTlsDuringStorm = await directTlsHandshake(a);
        }
      }
    };
    const storm = Promise.all(Array.from({ length: LOOPS }, loop));
    // Meanwhile the well-behaved peer opens its connection to us and we ours to it.
    const alice = await loginFederated(a, 'alice');
    const bob = await loginFederated(b, 'bob');
    bob.send(`<message to='alice@${a.domain}/r' id='m1' type='chat'><body>hello alice</body></message>`);
    await alice.waitFor('hello alice');
    alice.send(`<message to='bob@${b.domain}/r' id='m2' type='chat'><body>hello bob</body></message>`);
    await bob.waitFor('hello bob');
    await storm;
    // The burst, then at most one more per 12 s of refill: none in these seconds. Four held
    // in each of the three periods, the rest refused at once.
    assert.equal(outcomes.admitted, 5, JSON.stringify(outcomes));
    assert.ok(outcomes.held >= 8 && outcomes.held <= 12, JSON.stringify(outcomes));
    assert.ok(outcomes.refused >= 100, JSON.stringify(outcomes));
    assert.deepEqual([refusingDuringStorm, heldDuringStorm, directTlsDuringStorm], [1, 4, false]);
    const starts = a.logLines.filter((line) => line.includes('s2s address refused for a while') && line.includes(`address=${STORM_ADDRESS}`));
    assert.deepEqual(starts.slice(0, 3).map((line) => /refused_for_seconds=(\d+)/.exec(line)?.[1]), ['1', '2', '2']);
    assert.equal(await metric(a, /^trellis_connections_refused_total\{listener="s2s",reason="connect_rate"\}/), outcomes.refused + outcomes.held + 1, 'the stream refusals and the direct TLS one');
    // The other peer's connection came from another address and was never refused.
    assert.ok(a.server.s2s.connections().some((row) => row.direction === 'in' && row.remoteDomain === b.domain && row.authentication !== 'pending'));
    alice.close();
    bob.close();
  });
});
