/**
 * Failed logins across streams against a running server: per (account, address) pair, per
 * address and per account, each ending in temporary-auth-failure (RFC 6120 section 6.5.11)
 * for a while, logged with account and address, counted in the metrics; the account's owner
 * still logs in from another address, and from an address that logged in before even while
 * the account is blocked for new ones. Loopback offers many source addresses (127.0.0.0/8).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { adminRequest } from '../src/admin/client.ts';
import { RawClient, streamHeader } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

/** A client from `localAddress` at the stream features after STARTTLS, where PLAIN is offered. */
async function connectTls(server: TestServer, localAddress: string): Promise<RawClient> {
  const client = await RawClient.connect(server.port, '127.0.0.1', localAddress);
  client.send(streamHeader('localhost'));
  await client.waitFor('</stream:features>');
  client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  await client.waitFor('<proceed');
  await client.startTls(readFileSync(server.certificateFile('localhost')), 'localhost');
  client.send(streamHeader('localhost'));
  await client.waitFor('</stream:features>');
  client.clear();
  return client;
}

/** One PLAIN attempt on the stream; returns the <success/> or <failure/> element. */
async function plain(client: RawClient, username: string, password: string): Promise<string> {
  client.clear();
  client.send(`<auth xmlns='${SASL}' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString('base64')}</auth>`);
  const received = await client.waitFor(/<success[^>]*\/>|<success[\s\S]*?<\/success>|<failure[\s\S]*?<\/failure>/);
  return /<success[^>]*\/>|<success[\s\S]*?<\/success>|<failure[\s\S]*?<\/failure>/.exec(received)![0];
}

/** Fails `count` times on fresh streams from `localAddress` (a stream closes after c2s.max_auth_failures). */
async function fail(server: TestServer, localAddress: string, username: string, count: number): Promise<void> {
  let client = await connectTls(server, localAddress);
  for (let done = 0; done < count; done++) {
    if (done > 0 && done % 3 === 0) {
      client.close();
      client = await connectTls(server, localAddress);
    }
    assert.match(await plain(client, username, 'wrong'), /<not-authorized\/>/);
  }
  client.close();
}

async function attempt(server: TestServer, localAddress: string, username: string, password = 'secret'): Promise<string> {
  const client = await connectTls(server, localAddress);
  const answer = await plain(client, username, password);
  client.close();
  return answer;
}

const temporary = /<failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']><temporary-auth-failure\/><text xml:lang=["']en["']>too many failed logins: ([^<]*) are refused until \d{4}-\d\d-\d\dT/;

async function metrics(server: TestServer): Promise<string> {
  return (await adminRequest(server.server.adminSocket!, 'GET', '/metrics')).body;
}

describe('failed logins across streams', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(`
limits:
  auth: { max_failures_per_account_address: 3, max_failures_per_address: 5, max_failures_per_account: 4, block_duration: 120 }
`);
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin']) await server.addUser(user, 'localhost', 'secret');
  });
  after(() => server.stop());

  test('an account guessed from one address is refused from there, even with the right password; the owner logs in elsewhere', async () => {
    await fail(server, '127.0.0.11', 'alice', 3);
    const refused = temporary.exec(await attempt(server, '127.0.0.11', 'alice'));
    assert.equal(refused?.[1], 'logins to this account from 127.0.0.11');
    const line = await server.waitForLog('c2s login blocked after repeated failures', 'scope=account_address');
    assert.match(line, /address=127\.0\.0\.11/);
    assert.match(line, /account=alice@localhost/);
    assert.match(await attempt(server, '127.0.0.12', 'alice'), /<success/);
    // Other accounts from the same address are not affected by the pair block.
    assert.match(await attempt(server, '127.0.0.11', 'bob'), /<success/);
  });

  test('an address failing on several accounts is refused for every account', async () => {
    await fail(server, '127.0.0.13', 'bob', 2);
    await fail(server, '127.0.0.13', 'carol', 2);
    await fail(server, '127.0.0.13', 'dave', 1);
    assert.equal(temporary.exec(await attempt(server, '127.0.0.13', 'dave'))?.[1], 'logins from 127.0.0.13');
    const line = await server.waitForLog('c2s login blocked after repeated failures', 'scope=address', '127.0.0.13');
    assert.match(line, /failures=5/);
    await server.waitForLog('c2s login refused: blocked after repeated failures', 'scope=address', 'address=127.0.0.13');
    assert.match(await attempt(server, '127.0.0.14', 'dave'), /<success/);
  });

  test('an account guessed from many addresses is refused from new addresses, not from where its owner logged in', async () => {
    assert.match(await attempt(server, '127.0.0.15', 'erin'), /<success/);
    await fail(server, '127.0.0.16', 'erin', 2);
    await fail(server, '127.0.0.17', 'erin', 2);
    assert.equal(temporary.exec(await attempt(server, '127.0.0.18', 'erin'))?.[1], 'logins to this account from new addresses');
    assert.match(await attempt(server, '127.0.0.15', 'erin'), /<success/);
    await server.waitForLog('c2s login blocked after repeated failures', 'scope=account ', 'account=erin@localhost');
    const body = await metrics(server);
    for (const scope of ['address', 'account_address', 'account']) assert.match(body, new RegExp(`^trellis_auth_blocks_total\\{scope="${scope}"\\} 1$`, 'm'));
    assert.match(body, /^trellis_auth_refused_total\{scope="account"\} 1$/m);
  });

  test('each failure is logged with the account tried and the peer address', async () => {
    const line = await server.waitForLog('c2s authentication failed', 'user=erin@localhost', '127.0.0.16');
    assert.match(line, /condition=not-authorized/);
  });
});
