/**
 * SCRAM -PLUS over a real TLS connection: the advertised binding types (XEP-0440), logins bound
 * with tls-exporter (RFC 9266) and tls-server-end-point (RFC 5929), the XEP-0474 downgrade
 * protection hash checked by the client, and what is refused: data from another channel, a
 * client that says it could bind ("y"), a type the server does not have.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import { clientChannelBindings, type ChannelBindingType } from '../src/auth/channel-binding.ts';
import { ScramClient, type ScramClientOptions } from '../src/auth/scram-client.ts';
import { connectTls } from './support/login.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

/** The RFC 6120 <mechanisms/> list (SASL2's <authentication/> repeats it) and the XEP-0440 binding types. */
function advertisedIn(features: string) {
  const list = /<mechanisms xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']>(.*?)<\/mechanisms>/.exec(features)?.[1] ?? '';
  const mechanisms = [...list.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((match) => match[1]!);
  const channelBindings = [...features.matchAll(/<channel-binding type=["']([^"']+)["']/g)].map((match) => match[1]!);
  return { mechanisms, channelBindings };
}

/** One SCRAM exchange; resolves with the server's last element (<success/> or <failure/>). */
async function exchange(client: RawClient, mechanism: string, options: ScramClientOptions): Promise<string> {
  const scram = new ScramClient(options);
  client.clear();
  client.send(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>${scram.firstMessage().toString('base64')}</auth>`);
  const first = await client.waitFor(/<\/challenge>|<\/failure>/);
  const challenge = /<challenge[^>]*>([^<]*)<\/challenge>/.exec(first)?.[1];
  if (challenge === undefined) return first;
  client.clear();
  client.send(`<response xmlns='${NS_SASL}'>${(await scram.finalMessage(Buffer.from(challenge, 'base64'))).toString('base64')}</response>`);
  const last = await client.waitFor(/<\/success>|<success[^>]*\/>|<\/failure>/);
  const success = /<success[^>]*>([^<]*)<\/success>/.exec(last)?.[1];
  if (success !== undefined) scram.verifyServerFinal(Buffer.from(success, 'base64'));
  return last;
}

describe('SCRAM -PLUS channel binding', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.addUser('alice', 'localhost', 'secret');
  });
  after(async () => {
    await server.stop();
  });

  test('after STARTTLS (TLS 1.3) the -PLUS mechanisms and the tls-exporter and tls-server-end-point types are advertised', async () => {
    const client = await connectTls(server);
    const advertised = advertisedIn(client.received);
    assert.deepEqual(advertised.mechanisms, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1', 'PLAIN']);
    assert.deepEqual(advertised.channelBindings, ['tls-exporter', 'tls-server-end-point']);
    assert.match(client.received, /<sasl-channel-binding xmlns=["']urn:xmpp:sasl-cb:0["']>/);
    assert.equal((client.socket as TLSSocket).getProtocol(), 'TLSv1.3');
    client.close();
  });

  for (const type of ['tls-exporter', 'tls-server-end-point'] as ChannelBindingType[]) {
    for (const hash of ['SHA-256', 'SHA-1'] as const) {
      test(`SCRAM-${hash}-PLUS with ${type} succeeds, and the downgrade protection hash matches the advertised lists`, async () => {
        const client = await connectTls(server);
        const data = clientChannelBindings(client.socket as TLSSocket).data(type)!;
        const result = await exchange(client, `SCRAM-${hash}-PLUS`, {
          hash,
          username: 'alice',
          password: 'secret',
          channelBinding: { type, data },
          advertised: advertisedIn(client.received),
        });
        assert.match(result, /<success/);
        await server.waitForLog('c2s authenticated', `mechanism=SCRAM-${hash}-PLUS`);
        client.close();
      });
    }
  }

  test('the binding data of another TLS connection is refused with not-authorized', async () => {
    const other = await connectTls(server);
    const foreign = clientChannelBindings(other.socket as TLSSocket).data('tls-exporter')!;
    other.close();
    const client = await connectTls(server);
    const result = await exchange(client, 'SCRAM-SHA-256-PLUS', { hash: 'SHA-256', username: 'alice', password: 'secret', channelBinding: { type: 'tls-exporter', data: foreign } });
    assert.match(result, /<failure[^>]*><not-authorized\/>/);
    assert.match(result, /channel binding data does not match this connection/);
    client.close();
  });

  test('a client that could bind but saw no -PLUS ("y") is refused: the mechanism list was stripped', async () => {
    const client = await connectTls(server);
    const result = await exchange(client, 'SCRAM-SHA-256', { hash: 'SHA-256', username: 'alice', password: 'secret', bindingFlag: 'y' });
    assert.match(result, /<failure[^>]*><not-authorized\/><text[^>]*>server-does-support-channel-binding</);
    client.close();
  });

  test('a client that cannot bind ("n") logs in with SCRAM-SHA-256 and sees the same downgrade protection hash', async () => {
    const client = await connectTls(server);
    const result = await exchange(client, 'SCRAM-SHA-256', { hash: 'SHA-256', username: 'alice', password: 'secret', advertised: advertisedIn(client.received) });
    assert.match(result, /<success/);
    client.close();
  });

  test('a client that saw a stripped list fails the downgrade protection check', async () => {
    const client = await connectTls(server);
    const stripped = { mechanisms: ['SCRAM-SHA-1'], channelBindings: [] };
    await assert.rejects(exchange(client, 'SCRAM-SHA-1', { hash: 'SHA-1', username: 'alice', password: 'secret', advertised: stripped }), /downgrade protection hash does not match/);
    client.close();
  });

  test('an unknown binding type, and a -PLUS mechanism without binding, are refused', async () => {
    const client = await connectTls(server);
    const unknown = await exchange(client, 'SCRAM-SHA-256-PLUS', { hash: 'SHA-256', username: 'alice', password: 'secret', channelBinding: { type: 'tls-foo' as ChannelBindingType, data: Buffer.from('x') } });
    assert.match(unknown, /<malformed-request\/>.*not supported here/s);
    const unbound = await exchange(client, 'SCRAM-SHA-256-PLUS', { hash: 'SHA-256', username: 'alice', password: 'secret' });
    assert.match(unbound, /<malformed-request\/>.*needs channel binding/s);
    client.close();
  });
});

describe('SCRAM -PLUS left out of the configuration', () => {
  test('neither the -PLUS mechanisms nor binding types are advertised, and "y" is accepted', async () => {
    const server = await startTestServer('c2s:\n  sasl_mechanisms: [SCRAM-SHA-256]\n  scram_iterations: 4096\n  auth_failure_delay: 10\n');
    try {
      await server.addUser('alice', 'localhost', 'secret');
      const client = await connectTls(server);
      assert.deepEqual(advertisedIn(client.received), { mechanisms: ['SCRAM-SHA-256'], channelBindings: [] });
      const result = await exchange(client, 'SCRAM-SHA-256', { hash: 'SHA-256', username: 'alice', password: 'secret', bindingFlag: 'y', advertised: { mechanisms: ['SCRAM-SHA-256'] } });
      assert.match(result, /<success/);
      client.close();
    } finally {
      await server.stop();
    }
  });
});
