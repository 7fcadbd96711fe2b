/**
 * Stanzas for remote domains that cannot be reached come back to their sender as errors, with
 * the condition RFC 6120 section 8.3.3 names and within the configured timeouts: resolved
 * through the lab's real DNS (SRV records, a "." target, a name that does not exist).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { login } from '../support/login.ts';
import type { RawClient } from '../support/raw-client.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const TRELLIS_ADDRESS = '127.0.0.30';
/** accepts TCP connections and never says a word */
const SILENT_ADDRESS = '127.0.0.31';
/** nothing listens here */
const DEAD_ADDRESS = '127.0.0.32';
const NEGOTIATION_TIMEOUT_S = 2;

describe('bounces for unreachable remote domains', () => {
  let dns: LabDns | undefined;
  let trellis: TestServer | undefined;
  let silent: Server | undefined;
  let alice: RawClient | undefined;

  before(async () => {
    assertInsideLab();
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          { name: '_xmpp-server._tcp.noservice.test', type: 'SRV', port: 0, target: '.' },
          { name: '_xmpp-server._tcp.dead.test', type: 'SRV', port: 5269, target: 'host.dead.test' },
          { name: 'host.dead.test', type: 'A', address: DEAD_ADDRESS },
          { name: '_xmpp-server._tcp.silent.test', type: 'SRV', port: 5269, target: 'host.silent.test' },
          { name: 'host.silent.test', type: 'A', address: SILENT_ADDRESS },
        ],
      },
    ]);
    silent = createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => silent!.listen(5269, SILENT_ADDRESS, resolve));
    trellis = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["${TRELLIS_ADDRESS}"], port: 5269 }
s2s: { negotiation_timeout: ${NEGOTIATION_TIMEOUT_S}, connect_timeout: 2 }
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
`);
    await trellis.addUser('alice', 'localhost', 'secret');
    alice = (await login(trellis, { username: 'alice', password: 'secret', resource: 'r' })).client;
  });

  after(async () => {
    alice?.close();
    silent?.close();
    await trellis?.stop();
    await dns?.stop();
  });

  async function bounceOf(to: string, id: string): Promise<{ condition: string; seconds: number }> {
    const started = Date.now();
    alice!.send(`<message to='${to}' id='${id}' type='chat'><body>are you there?</body></message>`);
    const pattern = new RegExp(`<message [^>]*id=["']${id}["'][^>]*type=["']error["'][\\s\\S]*?</message>`);
    const received = await alice!.waitFor(pattern, 15_000);
    const bounce = pattern.exec(received)![0];
    assert.match(bounce, new RegExp(`from=["']${to}["']`), 'the error comes from the address the message was for');
    const condition = /<([a-z-]+) xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/.exec(bounce)?.[1] ?? '';
    return { condition, seconds: (Date.now() - started) / 1000 };
  }

  it('a domain whose SRV record says "no service" (target ".") bounces remote-server-not-found at once', async () => {
    const { condition, seconds } = await bounceOf('bob@noservice.test', 'b1');
    assert.equal(condition, 'remote-server-not-found');
    assert.ok(seconds < 2, `${seconds} s`);
  });

  it('a domain that does not exist bounces remote-server-not-found', async () => {
    const { condition } = await bounceOf('bob@nonexistent.test', 'b2');
    assert.equal(condition, 'remote-server-not-found');
  });

  it('a server that refuses connections bounces remote-server-timeout', async () => {
    const { condition, seconds } = await bounceOf('bob@dead.test', 'b3');
    assert.equal(condition, 'remote-server-timeout');
    assert.ok(seconds < 3, `${seconds} s`);
  });

  it('a server that never answers bounces remote-server-timeout within the negotiation timeout', async () => {
    const { condition, seconds } = await bounceOf('bob@silent.test', 'b4');
    assert.equal(condition, 'remote-server-timeout');
    assert.ok(seconds >= NEGOTIATION_TIMEOUT_S - 0.5 && seconds < NEGOTIATION_TIMEOUT_S + 2, `${seconds} s`);
  });
});
