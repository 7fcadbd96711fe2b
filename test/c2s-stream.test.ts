/**
 * Client streams at the byte level: negotiation rules and hostile input. Every hostile stream
 * must end with the right stream error, and a legitimate client must still log in afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, streamHeader } from './support/raw-client.ts';
import { connectTls, login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const LIMITS = `
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  max_auth_failures: 2
  pre_auth_timeout: 2
  limits: { max_stanza_bytes: 4096, max_depth: 8, max_attributes: 8, max_attribute_bytes: 256, max_text_bytes: 2048 }
hosts:
  localhost: {}
  example.test: {}
`;

async function expectStreamError(client: RawClient, condition: string, text?: RegExp): Promise<void> {
  const received = await client.waitFor('</stream:error></stream:stream>');
  assert.match(received, new RegExp(`<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`));
  if (text) assert.match(received, text);
  await client.waitClosed();
}

describe('client stream negotiation and hostile input', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(LIMITS);
    await server.addUser('alice', 'localhost', 'secret');
    await server.addUser('bob', 'example.test', 'secret');
  });
  after(async () => {
    await server.stop();
  });

  /** After each hostile stream: the server still serves a legitimate client. */
  async function assertStillServing(): Promise<void> {
    const { client, jid } = await login(server, { username: 'alice', password: 'secret', resource: 'check' });
    assert.equal(jid, 'alice@localhost/check');
    client.close();
  }

  test('offers only STARTTLS (required) before TLS, then SCRAM with and without channel binding and PLAIN after', async () => {
    const client = await RawClient.connect(server.port);
    client.send(streamHeader('localhost'));
    const before = await client.waitFor('</stream:features>');
    assert.match(before, /<starttls xmlns=["']urn:ietf:params:xml:ns:xmpp-tls["']><required\/><\/starttls>/);
    assert.doesNotMatch(before, /mechanisms/);
    assert.match(before, /from='localhost'/);
    assert.match(before, /id='[A-Za-z0-9_-]{22}'/);
    client.close();
    const secure = await connectTls(server);
    assert.match(
      secure.received,
      /<mechanism>SCRAM-SHA-256-PLUS<\/mechanism><mechanism>SCRAM-SHA-256<\/mechanism><mechanism>SCRAM-SHA-1-PLUS<\/mechanism><mechanism>SCRAM-SHA-1<\/mechanism><mechanism>PLAIN<\/mechanism>/,
    );
    assert.doesNotMatch(secure.received, /starttls/);
    secure.close();
  });

  test('SASL before TLS is refused with encryption-required', async () => {
    const client = await RawClient.connect(server.port);
    client.send(streamHeader('localhost'));
    await client.waitFor('</stream:features>');
    client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>");
    await client.waitFor(/<failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']><encryption-required\/>/);
    client.close();
    await assertStillServing();
  });

  test('a stanza before authentication gets not-authorized', async () => {
    const client = await connectTls(server);
    client.send("<message to='alice@localhost'><body>hi</body></message>");
    await expectStreamError(client, 'not-authorized');
    await assertStillServing();
  });

  const headerCases: { name: string; header: string; condition: string }[] = [
    { name: 'unknown domain', header: streamHeader('elsewhere.test'), condition: 'host-unknown' },
    // A service host (group chat) has no accounts to log in to.
    { name: 'a service domain', header: streamHeader('conference.localhost'), condition: 'host-unknown' },
    { name: 'no to', header: "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", condition: 'host-unknown' },
    { name: 'wrong stream namespace', header: "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='localhost' version='1.0'>", condition: 'invalid-namespace' },
    { name: 'wrong content namespace', header: "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>", condition: 'invalid-namespace' },
    { name: 'old version', header: "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost'>", condition: 'unsupported-version' },
  ];
  for (const { name, header, condition } of headerCases) {
    test(`stream header with ${name} gets ${condition}`, async () => {
      const client = await RawClient.connect(server.port);
      client.send(header);
      await expectStreamError(client, condition);
      assert.match(client.received, /^<\?xml version='1.0'\?><stream:stream /, 'the error comes after our own stream header');
      await assertStillServing();
    });
  }

  const bodyCases: { name: string; xml: string | Buffer; condition: string; text?: RegExp }[] = [
    { name: 'mismatched end tag', xml: '<message><body>x</message>', condition: 'not-well-formed' },
    { name: 'invalid UTF-8', xml: Buffer.from([0x3c, 0x6d, 0x3e, 0xc3, 0x28, 0x3c, 0x2f, 0x6d, 0x3e]), condition: 'not-well-formed' },
    { name: 'a restricted character', xml: '<message><body>\u0001</body></message>', condition: 'not-well-formed' },
    { name: 'a comment', xml: '<!-- hello -->', condition: 'restricted-xml' },
    { name: 'a processing instruction', xml: '<?php echo 1; ?>', condition: 'restricted-xml' },
    { name: 'a DOCTYPE', xml: '<!DOCTYPE lolz [<!ENTITY lol "lol">]>', condition: 'restricted-xml' },
    { name: 'an entity reference', xml: '<message><body>&lol;</body></message>', condition: 'restricted-xml' },
    { name: 'an oversized stanza', xml: `<message><body>${'x'.repeat(2000)}</body><body>${'y'.repeat(2000)}</body><body>${'z'.repeat(200)}</body></message>`, condition: 'policy-violation', text: /max_stanza_bytes \(4096\)/ },
    { name: 'too deep nesting', xml: '<a><b><c><d><e><f><g><h><i><j/></i></h></g></f></e></d></c></b></a>', condition: 'policy-violation', text: /max_depth/ },
    { name: 'too many attributes', xml: `<message ${Array.from({ length: 9 }, (_, i) => `a${i}='1'`).join(' ')}/>`, condition: 'policy-violation', text: /max_attributes/ },
    { name: 'a long attribute', xml: `<message id='${'i'.repeat(300)}'/>`, condition: 'policy-violation', text: /max_attribute_bytes/ },
    { name: 'a long text', xml: `<message><body>${'t'.repeat(2100)}</body></message>`, condition: 'policy-violation', text: /max_text_bytes/ },
  ];
  for (const { name, xml, condition, text } of bodyCases) {
    test(`${name} ends the stream with ${condition}`, async () => {
      const client = await RawClient.connect(server.port);
      client.send(streamHeader('localhost'));
      await client.waitFor('</stream:features>');
      client.send(xml);
      await expectStreamError(client, condition, text);
      await assertStillServing();
    });
  }

  test('hostile input after login ends only that stream', async () => {
    const { client: other } = await login(server, { username: 'bob', password: 'secret', domain: 'example.test', resource: 'r' });
    const { client } = await login(server, { username: 'alice', password: 'secret', resource: 'hostile' });
    client.send('<message><body>&xxe;</body></message>');
    await expectStreamError(client, 'restricted-xml');
    other.send("<iq type='get' id='p1' to='example.test'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.match(await other.waitFor(/id=["']p1["']/), /type=["']result["']/);
    other.close();
  });

  test('a second stream header without a restart ends the stream with invalid-xml', async () => {
    const client = await RawClient.connect(server.port);
    client.send(streamHeader('localhost'));
    await client.waitFor('</stream:features>');
    client.clear();
    // Without the XML declaration, which would be a restricted-xml error of its own.
    client.send(streamHeader('localhost').replace("<?xml version='1.0'?>", ''));
    await expectStreamError(client, 'invalid-xml', /second stream header/);
    await assertStillServing();
  });

  test('a second stream header after login is invalid-xml, and what follows it is not delivered', async () => {
    const { client: other } = await login(server, { username: 'bob', password: 'secret', domain: 'example.test', resource: 'r2' });
    const { client } = await login(server, { username: 'alice', password: 'secret', resource: 'twice' });
    other.clear();
    client.send(`${streamHeader('localhost').replace("<?xml version='1.0'?>", '')}<message to='bob@example.test/r2'><body>after the header</body></message>`);
    await expectStreamError(client, 'invalid-xml');
    other.send("<iq type='get' id='p2' to='example.test'><ping xmlns='urn:xmpp:ping'/></iq>");
    await other.waitFor(/id=["']p2["']/);
    assert.doesNotMatch(other.received, /after the header/);
    other.close();
    await assertStillServing();
  });

  test('what a client sends after its closing tag is ignored: a clean close, logged as one (RFC 6120 section 4.4)', async () => {
    const { client, jid } = await login(server, { username: 'alice', password: 'secret', resource: 'late' });
    client.send("<enable xmlns='urn:xmpp:sm:3'/>");
    await client.waitFor(/<enabled\b/);
    client.clear();
    // As slixmpp does when an ack request from the server crosses its closing tag: it answers after it.
    client.send("</stream:stream><a xmlns='urn:xmpp:sm:3' h='0'/><message to='alice@localhost'><body>too late</body></message>");
    await client.waitClosed();
    assert.equal(client.received, '</stream:stream>');
    assert.match(await server.waitForLog('c2s connection closed', `jid=${jid}`), / reason="stream closed by peer" /);
  });

  test('what a client sent before its closing tag is all handled, in order, even in the same packet (RFC 6120 section 4.4)', async () => {
    const { client: other } = await login(server, { username: 'bob', password: 'secret', domain: 'example.test', resource: 'before' });
    const { client } = await login(server, { username: 'alice', password: 'secret', resource: 'leaving' });
    other.clear();
    let burst = '';
    for (let index = 1; index <= 20; index++) burst += `<message to='bob@example.test/before' type='chat'><body>last words ${index}</body></message>`;
    client.send(`${burst}</stream:stream>`);
    await client.waitClosed();
    const received = await other.waitFor('last words 20');
    assert.deepEqual([...received.matchAll(/last words (\d+)/g)].map((match) => Number(match[1])), Array.from({ length: 20 }, (_, index) => index + 1));
    other.close();
  });

  test('an authorization identity naming another user is refused with invalid-authzid', async () => {
    const client = await connectTls(server);
    const plain = Buffer.from('bob@example.test\0alice\0secret').toString('base64');
    client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`);
    await client.waitFor(/<failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']><invalid-authzid\/>/);
    client.close();
  });

  test('PLAIN over TLS with the own bare JID as authzid succeeds', async () => {
    const client = await connectTls(server);
    client.clear();
    client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('alice@localhost\0alice\0secret').toString('base64')}</auth>`);
    await client.waitFor(/<success xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    client.close();
  });

  test('repeated authentication failures are delayed and end the stream with policy-violation', async () => {
    const client = await connectTls(server);
    const wrong = Buffer.from('\0alice\0wrong').toString('base64');
    const started = Date.now();
    client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${wrong}</auth>`);
    await client.waitFor('<not-authorized/>');
    client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${wrong}</auth>`);
    await expectStreamError(client, 'policy-violation', /too many failed authentication attempts/);
    assert.ok(Date.now() - started >= 30, 'failures are answered after a delay (10 ms, then 20 ms)');
    await assertStillServing();
  });

  test('an unknown mechanism and bad base64 get their SASL failures', async () => {
    const client = await connectTls(server);
    client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>");
    await client.waitFor('<invalid-mechanism/>');
    client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>not*base64</auth>");
    await client.waitFor('<incorrect-encoding/>');
    client.close();
  });

  test('a connection that does not authenticate in time is closed', async () => {
    const client = await RawClient.connect(server.port);
    client.send(streamHeader('localhost'));
    await expectStreamError(client, 'connection-timeout');
    await server.waitForLog('c2s connection closed', 'not authenticated within 2 s');
  });

  test('whitespace keepalives are accepted between stanzas', async () => {
    const { client } = await login(server, { username: 'alice', password: 'secret', resource: 'ws' });
    client.send(' \n ');
    client.send("<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq> ");
    assert.match(await client.waitFor(/id=["']p2["']/), /type=["']result["']/);
    client.close();
  });

  test('a server-generated resource is given when none is asked', async () => {
    const { client, jid } = await login(server, { username: 'alice', password: 'secret' });
    assert.match(jid, /^alice@localhost\/[A-Za-z0-9_-]{12}$/);
    client.close();
  });

  test('a second login on the same resource replaces the first with conflict', async () => {
    const first = await login(server, { username: 'alice', password: 'secret', resource: 'same' });
    const second = await login(server, { username: 'alice', password: 'secret', resource: 'same' });
    await expectStreamError(first.client, 'conflict');
    second.client.send("<iq type='get' id='p3' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.match(await second.client.waitFor(/id=["']p3["']/), /type=["']result["']/);
    second.client.close();
  });

  test('a forged from is refused with invalid-from and logged', async () => {
    const { client } = await login(server, { username: 'alice', password: 'secret', resource: 'forger' });
    client.send("<message from='bob@example.test/r' to='alice@localhost'><body>spoof</body></message>");
    await expectStreamError(client, 'invalid-from');
    await server.waitForLog('c2s forged from rejected', 'from=bob@example.test/r', 'peer=127.0.0.1:');
    await assertStillServing();
  });

  test('an unhandled IQ gets service-unavailable and a malformed address jid-malformed', async () => {
    const { client } = await login(server, { username: 'alice', password: 'secret', resource: 'iq' });
    client.send("<iq type='get' id='u1' to='localhost'><query xmlns='urn:example:nothing'/></iq>");
    assert.match(await client.waitFor(/id=["']u1["']/), /type=["']error["'].*<service-unavailable xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/s);
    client.send("<message id='m1' to='a@b@c'><body>x</body></message>");
    assert.match(await client.waitFor(/id=["']m1["']/), /<jid-malformed xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    client.send("<iq type='result' id='r1' to='localhost'/>");
    client.send("<iq type='get' id='p4' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const received = await client.waitFor(/id=["']p4["']/);
    assert.doesNotMatch(received, /id=["']r1["']/, 'results are never answered');
    client.close();
  });
});
