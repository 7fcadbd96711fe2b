/**
 * Routes before DNS (docs/peering.md), three Trellis servers on loopback:
 *
 *   A 127.0.4.11  hosts 127.0.4.11, with s2s.peering routes:
 *                 hidden.example -> 127.0.4.12:5269 (a host and port, no DNS at all)
 *                 far.example    -> 127.0.4.13 (a next hop domain, looked up as any domain)
 *                 *.closed.example: reject
 *   B 127.0.4.12  hosts hidden.example, a domain no DNS knows
 *   C 127.0.4.13  hosts far.example, a domain no DNS knows
 *
 * A reaches both through their next hops and they answer back; stanzas for a rejected domain
 * bounce with not-allowed naming the rule, and nothing connects.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loginFederated, startServerAt, type FederatedServer } from './support/federation.ts';

const condition = (name: string) => new RegExp(`<${name} xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/>`);

describe('routes before DNS between Trellis servers', () => {
  let a: FederatedServer;
  let b: FederatedServer;
  let c: FederatedServer;
  before(async () => {
    [a, b, c] = await Promise.all([
      startServerAt(
        '127.0.4.11',
        '127.0.4.11',
        `s2s:
  retry_initial_delay: 1
  connect_timeout: 2
  peering:
    hidden.example: { via: "127.0.4.12:5269" }
    far.example: { via: "127.0.4.13" }
    "*.closed.example": { route: reject }
`,
      ),
      startServerAt('127.0.4.12', 'hidden.example'),
      startServerAt('127.0.4.13', 'far.example'),
    ]);
    await Promise.all([a.addUser('alice', a.domain, 'secret'), b.addUser('bob', b.domain, 'secret'), c.addUser('carol', c.domain, 'secret')]);
  });
  after(async () => {
    await Promise.all([a, b, c].map((server) => server?.stop()));
  });

  const connectionTo = (domain: string) => a.server.s2s.connections().find((row) => row.direction === 'out' && row.remoteDomain === domain);

  test('a domain without DNS is reached through a host and port, and answers back', async () => {
    const alice = await loginFederated(a, 'alice');
    const bob = await loginFederated(b, 'bob');
    alice.send("<message to='bob@hidden.example/r' id='via-address' type='chat'><body>through the next hop</body></message>");
    assert.match(await bob.waitFor('through the next hop', 10_000), /from=["']alice@127\.0\.4\.11\/r["']/);
    assert.match(connectionTo('hidden.example')?.remoteAddress ?? '', /^127\.0\.4\.12/);
    bob.send("<message to='alice@127.0.4.11/r' id='back' type='chat'><body>and back</body></message>");
    await alice.waitFor('and back', 10_000);
    alice.close();
    bob.close();
  });

  test('a domain without DNS is reached through a next hop domain', async () => {
    const alice = await loginFederated(a, 'alice');
    const carol = await loginFederated(c, 'carol');
    alice.send("<message to='carol@far.example/r' id='via-domain' type='chat'><body>through far's hop</body></message>");
    await carol.waitFor("through far's hop", 10_000);
    assert.match(connectionTo('far.example')?.remoteAddress ?? '', /^127\.0\.4\.13/);
    alice.close();
    carol.close();
  });

  test('a rejected route bounces with not-allowed naming the rule, and nothing connects', async () => {
    const alice = await loginFederated(a, 'alice');
    alice.send("<message to='x@a.closed.example' id='rejected' type='chat'><body>no way</body></message>");
    const bounce = await alice.waitFor(/<message[^>]*id=["']rejected["'][\s\S]*?<\/message>/);
    assert.match(bounce, /type=["']error["']/);
    assert.match(bounce, condition('not-allowed'));
    assert.match(bounce, /s2s\.peering\["\*\.closed\.example"\]\.route \(reject\) refuses stanzas for a\.closed\.example/);
    assert.equal(connectionTo('a.closed.example'), undefined);
    alice.close();
  });
});
