/**
 * Hostile and broken server peers, spoken to byte by byte: each gets the right stream or
 * dialback error, and real federation between two Trellis servers keeps working afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { dialbackKey } from '../src/s2s/dialback-key.ts';
import { loginFederated, startFederatedServer, type FederatedServer } from './support/federation.ts';
import { RawClient } from './support/raw-client.ts';

const A = '127.0.0.71';
const B = '127.0.0.72';
const SECRET_B = 'the secret of server B';
const NO_TLS_PEER = '127.0.0.74';

function serverHeader(to: string, from: string): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='${to}' from='${from}' version='1.0'>`;
}

async function expectStreamError(client: RawClient, condition: string): Promise<void> {
  const received = await client.waitFor('</stream:error>', 10_000);
  assert.match(received, new RegExp(`<${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`));
  await client.waitClosed();
}

/** A raw server-to-server stream to A claiming to be B, after STARTTLS; returns A's stream id. */
async function peerStream(): Promise<{ client: RawClient; streamId: string }> {
  const client = await RawClient.connect(5269, A);
  client.send(serverHeader(A, B));
  await client.waitFor('</stream:features>');
  client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  await client.waitFor('<proceed');
  await client.startTls(undefined, A);
  client.send(serverHeader(A, B));
  const header = await client.waitFor('</stream:features>');
  const streamId = /<stream:stream [^>]*id='([^']+)'/.exec(header)?.[1];
  assert.ok(streamId, header);
  client.clear();
  return { client, streamId };
}


describe('hostile server peers', () => {
  let a: FederatedServer;
  let b: FederatedServer;
  let alice: RawClient;
  let bob: RawClient;
  let noTlsPeer: Server;
  let sequence = 0;

  before(async () => {
    a = await startFederatedServer(A, 's2s: { min_level: encrypted, retry_initial_delay: 1, negotiation_timeout: 5 }\nlimits: { log_interval: 1 }');
    b = await startFederatedServer(B, `s2s: { min_level: encrypted, dialback_secret: "${SECRET_B}" }`);
    await a.addUser('alice', A, 'secret');
    await b.addUser('bob', B, 'secret');
    alice = await loginFederated(a, 'alice');
    bob = await loginFederated(b, 'bob');
    // A server that answers with features but never offers STARTTLS.
    noTlsPeer = createServer((socket) => {
      socket.once('data', () => socket.write(`${serverHeader(A, NO_TLS_PEER).replace("to='", "id='plain1' to='")}<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => noTlsPeer.listen(5269, NO_TLS_PEER, resolve));
  });

  after(async () => {
    alice.close();
    bob.close();
    noTlsPeer.close();
    await a.stop();
    await b.stop();
  });

  /** After each hostile peer: B's user still reaches A's user. */
  async function assertFederationWorks(): Promise<void> {
    const body = `still here ${++sequence}`;
    bob.send(`<message to='alice@${A}/r' type='chat'><body>${body}</body></message>`);
    await alice.waitFor(body, 10_000);
  }

  test('a stream to a domain we do not host gets host-unknown', async () => {
    const client = await RawClient.connect(5269, A);
    client.send(serverHeader('elsewhere.example', B));
    await expectStreamError(client, 'host-unknown');
    await assertFederationWorks();
  });

  test('a stanza before authentication gets not-authorized and is not delivered', async () => {
    const { client } = await peerStream();
    client.send(`<message from='bob@${B}/r' to='alice@${A}/r'><body>unauthenticated</body></message>`);
    await expectStreamError(client, 'not-authorized');
    await assertFederationWorks();
    assert.doesNotMatch(alice.received, /unauthenticated/);
  });

  test('dialback with a bad key is checked with the authoritative server and refused', async () => {
    const { client } = await peerStream();
    client.send(`<db:result from='${B}' to='${A}'>0000000000000000000000000000000000000000000000000000000000000000</db:result>`);
    const answer = await client.waitFor(/<db:result [^>]*type='invalid'/, 10_000);
    assert.match(answer, new RegExp(`from='${A}'`));
    await client.waitClosed();
    await a.waitForLog('s2s incoming dialback key invalid', `from=${B}`);
    await assertFederationWorks();
  });

  test('a valid dialback key authorizes the sender, and a forged from then gets invalid-from', async () => {
    const { client, streamId } = await peerStream();
    client.send(`<db:result from='${B}' to='${A}'>${dialbackKey(SECRET_B, A, B, streamId)}</db:result>`);
    await client.waitFor(/<db:result [^>]*type='valid'/, 10_000);
    client.send(`<message from='bob@${B}/raw' to='alice@${A}/r' type='chat'><body>authenticated hello</body></message>`);
    await alice.waitFor('authenticated hello');
    client.send(`<message from='mallory@127.0.0.73/x' to='alice@${A}/r' type='chat'><body>forged</body></message>`);
    await expectStreamError(client, 'invalid-from');
    assert.doesNotMatch(alice.received, /forged/);
    await assertFederationWorks();
  });

  test('a peer that repeats what is ignored is answered alike each time, and logged once per log_interval', async () => {
    const { client, streamId } = await peerStream();
    client.send(`<db:result from='${B}' to='${A}'>${dialbackKey(SECRET_B, A, B, streamId)}</db:result>`);
    await client.waitFor(/<db:result [^>]*type='valid'/, 10_000);
    const warning = 's2s incoming ignored a dialback answer with a type';
    const logged = (): string[] => a.logLines.filter((line) => line.includes(warning));
    // XEP-0220 section 3.1: a typed answer on a stream the peer opened is unsolicited and ignored.
    for (let index = 0; index < 50; index++) client.send(`<db:result from='${B}' to='${A}' type='valid'/>`);
    // The stream is read in order: once this message arrives, the 50 before it were handled.
    client.send(`<message from='bob@${B}/raw' to='alice@${A}/r' type='chat'><body>after the repeats</body></message>`);
    await alice.waitFor('after the repeats');
    assert.equal(logged().length, 1, logged().join('\n'));

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    client.send(`<db:result from='${B}' to='${A}' type='valid'/>`);
    assert.match(await a.waitForLog(warning, 'not_logged_since_last=49'), new RegExp(`from=${B.replaceAll('.', '\\.')}`));
    assert.equal(logged().length, 2, logged().join('\n'));
    client.close();
    await assertFederationWorks();
  });

  test('a stanza without addresses gets improper-addressing', async () => {
    const { client, streamId } = await peerStream();
    client.send(`<db:result from='${B}' to='${A}'>${dialbackKey(SECRET_B, A, B, streamId)}</db:result>`);
    await client.waitFor(/<db:result [^>]*type='valid'/, 10_000);
    client.send('<message><body>nowhere</body></message>');
    await expectStreamError(client, 'improper-addressing');
    await assertFederationWorks();
  });

  test('under the encrypted level, dialback without TLS is refused with a policy-violation dialback error', async () => {
    const client = await RawClient.connect(5269, A);
    client.send(serverHeader(A, B));
    const features = await client.waitFor('</stream:features>');
    assert.match(features, /<starttls xmlns=["']urn:ietf:params:xml:ns:xmpp-tls["']><required\/><\/starttls>/);
    client.send(`<db:result from='${B}' to='${A}'>somekey</db:result>`);
    const answer = await client.waitFor(/<db:result [^>]*type='error'/);
    assert.match(answer, /<policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    client.close();
    await assertFederationWorks();
  });

  test('a server that offers no TLS is not used under the encrypted level; the message bounces', async () => {
    alice.clear();
    alice.send(`<message to='someone@${NO_TLS_PEER}' id='plain-msg' type='chat'><body>needs TLS</body></message>`);
    const bounce = await alice.waitFor(/id=["']plain-msg["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']plain-msg["']/, 10_000);
    assert.match(bounce, /remote-server-timeout/);
    assert.match(bounce, /offers no TLS/);
    await assertFederationWorks();
  });
});
