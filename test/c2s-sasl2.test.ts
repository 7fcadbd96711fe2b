/**
 * SASL2 (XEP-0388), Bind 2 (XEP-0386), inline stream management (XEP-0198) and FAST (XEP-0484)
 * at the byte level: what is offered, SCRAM-PLUS with the XEP-0474 hash inside SASL2, failures,
 * token rotation and invalidation, resumption inside SASL2, and Bind 2's inline features.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { clientChannelBindings } from '../src/auth/channel-binding.ts';
import { ScramClient } from '../src/auth/scram-client.ts';
import type { RawClient } from './support/raw-client.ts';
import { connectTls } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SASL2 = 'urn:xmpp:sasl:2';
const FAST = 'urn:xmpp:fast:0';

/** The RFC 6120 <mechanisms/> list, which SASL2's <authentication/> must repeat (and the XEP-0474 hash covers). */
function saslMechanisms(features: string): string[] {
  const list = /<mechanisms xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']>(.*?)<\/mechanisms>/.exec(features)?.[1] ?? '';
  return [...list.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((match) => match[1]!);
}

function userAgent(id: string): string {
  return `<user-agent id='${id}'><software>raw</software></user-agent>`;
}

/** SCRAM-SHA-256-PLUS with tls-exporter over SASL2; `inline` goes into <authenticate/>. Resolves with <success/> or <failure/>. */
async function scramLogin(client: RawClient, inline: string, password = 'secret'): Promise<string> {
  const features = client.received;
  const binding = clientChannelBindings(client.socket as TLSSocket);
  const scram = new ScramClient({
    hash: 'SHA-256',
    username: 'alice',
    password,
    channelBinding: { type: 'tls-exporter', data: binding.data('tls-exporter')! },
    advertised: { mechanisms: saslMechanisms(features), channelBindings: binding.types.length > 0 ? ['tls-exporter', 'tls-server-end-point'] : [] },
  });
  client.clear();
  client.send(`<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256-PLUS'><initial-response>${scram.firstMessage().toString('base64')}</initial-response>${inline}</authenticate>`);
  const challenge = /<challenge[^>]*>([^<]*)<\/challenge>/.exec(await client.waitFor(/<\/challenge>|<\/failure>/))?.[1];
  if (challenge === undefined) return client.received;
  client.clear();
  client.send(`<response xmlns='${SASL2}'>${(await scram.finalMessage(Buffer.from(challenge, 'base64'))).toString('base64')}</response>`);
  const last = await client.waitFor(/<\/success>|<\/failure>/);
  const data = /<additional-data>([^<]*)<\/additional-data>/.exec(last)?.[1];
  if (data !== undefined) scram.verifyServerFinal(Buffer.from(data, 'base64'));
  return last;
}

/** HT-SHA-256-NONE (draft-schmaus-kitten-sasl-ht section 3.1) with a token. */
async function tokenLogin(client: RawClient, token: string, inline: string, fast = `<fast xmlns='${FAST}'/>`): Promise<string> {
  const proof = createHmac('sha256', token).update('Initiator').digest();
  const message = Buffer.concat([Buffer.from('alice\0'), proof]).toString('base64');
  client.clear();
  client.send(`<authenticate xmlns='${SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${message}</initial-response>${inline}${fast}</authenticate>`);
  const last = await client.waitFor(/<\/success>|<\/failure>/);
  const data = /<additional-data>([^<]*)<\/additional-data>/.exec(last)?.[1];
  if (data !== undefined) assert.deepEqual(Buffer.from(data, 'base64'), createHmac('sha256', token).update('Responder').digest(), 'the server proves it knows the token');
  return last;
}

function tokenIn(success: string): string {
  const token = /<token[^>]*token=["']([^"']+)["']/.exec(success)?.[1];
  assert.ok(token, `no token in ${success}`);
  return token;
}

describe('SASL2, Bind 2 and FAST on the wire', () => {
  let server: TestServer;
  const clients: RawClient[] = [];
  const connect = async () => {
    const client = await connectTls(server);
    clients.push(client);
    return client;
  };
  before(async () => {
    server = await startTestServer('c2s:\n  scram_iterations: 4096\n  auth_failure_delay: 10\n  max_auth_failures: 20\n  fast: { max_tokens_per_account: 3 }\n');
    await server.addUser('alice', 'localhost', 'secret');
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  test('the features offer SASL2 with the SASL mechanisms, Bind 2 with its inline features, SM and FAST', async () => {
    const client = await connect();
    const features = client.received;
    const authentication = /<authentication xmlns=["']urn:xmpp:sasl:2["']>.*?<\/authentication>/.exec(features)?.[0] ?? '';
    const mechanisms = [...authentication.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((match) => match[1]!);
    assert.deepEqual(mechanisms.slice(0, 5), saslMechanisms(features));
    assert.deepEqual(mechanisms.slice(5), ['HT-SHA-256-EXPR', 'HT-SHA-256-ENDP', 'HT-SHA-256-NONE'], 'the FAST mechanisms, in <fast/>');
    assert.match(authentication, /<bind xmlns=["']urn:xmpp:bind:0["']><inline><feature var=["']urn:xmpp:carbons:2["']\/><feature var=["']urn:xmpp:csi:0["']\/><feature var=["']urn:xmpp:sm:3["']\/><\/inline><\/bind>/);
    assert.match(authentication, /<sm xmlns=["']urn:xmpp:sm:3["']\/><fast xmlns=["']urn:xmpp:fast:0["']>/);
  });

  test('SCRAM-SHA-256-PLUS inside SASL2 checks the XEP-0474 hash; Bind 2 binds, enables carbons, SM and the CSI state; no stream restart', async () => {
    const client = await connect();
    const agent = randomUUID();
    const success = await scramLogin(client, `${userAgent(agent)}<bind xmlns='urn:xmpp:bind:0'><tag>Raw</tag><enable xmlns='urn:xmpp:carbons:2'/><enable xmlns='urn:xmpp:sm:3' resume='true'/><inactive xmlns='urn:xmpp:csi:0'/></bind>`);
    const jid = /<authorization-identifier>([^<]+)<\/authorization-identifier>/.exec(success)?.[1];
    assert.match(String(jid), /^alice@localhost\/Raw\/[\w-]{8}$/);
    assert.match(success, /<bound xmlns=["']urn:xmpp:bind:0["']><enabled xmlns=["']urn:xmpp:sm:3["'] id=["'][^"']+["'] resume=["']true["']/);
    // Section 3.4.1: <success/> is followed by the features of the authenticated stream, without resource binding.
    const features = await client.waitFor('</stream:features>');
    assert.doesNotMatch(features.slice(features.indexOf('</success>')), /xmpp-bind|<sm /);
    const session = [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === jid);
    assert.equal(session?.im.carbons, true);
    assert.equal(session?.inactive, true);
    client.clear();
    client.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await client.waitFor(/id=["']p1["']/);
  });

  test('failures carry the RFC 6120 condition and text; an unknown mechanism and a token login without <fast/> are refused', async () => {
    const client = await connect();
    const failure = await scramLogin(client, '', 'wrong');
    assert.match(failure, /<failure xmlns=["']urn:xmpp:sasl:2["']><not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    client.clear();
    client.send(`<authenticate xmlns='${SASL2}' mechanism='X-UNKNOWN'/>`);
    assert.match(await client.waitFor('</failure>'), /<invalid-mechanism xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/><text>/);
    assert.match(await tokenLogin(client, 'x'.repeat(100), userAgent(randomUUID()), ''), /<invalid-mechanism [^>]*\/><text>a token login needs &lt;fast\/&gt;/);
  });

  test('a token is rotated on request; the old one works until the new one is used, then not; invalidate ends a token', async () => {
    const agent = randomUUID();
    const first = tokenIn(await scramLogin(await connect(), `${userAgent(agent)}<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>`));
    // A FAST login asking for a new token gets one; the old token stays valid until the new one is used.
    const second = tokenIn(await tokenLogin(await connect(), first, `${userAgent(agent)}<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>`));
    assert.notEqual(second, first);
    assert.match(await tokenLogin(await connect(), first, userAgent(agent)), /<success /);
    assert.match(await tokenLogin(await connect(), second, userAgent(agent)), /<success /);
    // Section 3.4: using the newer token ended the older one.
    assert.match(await tokenLogin(await connect(), first, userAgent(agent)), /<not-authorized /);
    // Section 3.5: invalidate, without a new token.
    const invalidated = await tokenLogin(await connect(), second, userAgent(agent), `<fast xmlns='${FAST}' invalidate='true'/>`);
    assert.match(invalidated, /<success /);
    assert.doesNotMatch(invalidated, /<token /);
    assert.match(await tokenLogin(await connect(), second, userAgent(agent)), /<not-authorized /);
  });

  test('tokens are bounded per account: the oldest goes', async () => {
    const tokens = [];
    for (let i = 0; i < 4; i++) tokens.push(tokenIn(await scramLogin(await connect(), `${userAgent(`client-${i}`)}<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>`)));
    assert.match(await tokenLogin(await connect(), tokens[0]!, userAgent('client-0')), /<not-authorized /);
    assert.match(await tokenLogin(await connect(), tokens[3]!, userAgent('client-3')), /<success /);
  });

  test('a session is resumed inside SASL2 with what it missed, and Bind 2 is skipped', async () => {
    const agent = randomUUID();
    const first = await connect();
    const success = await scramLogin(first, `${userAgent(agent)}<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>`);
    const jid = /<authorization-identifier>([^<]+)<\/authorization-identifier>/.exec(success)![1]!;
    const id = /<enabled [^>]*id=["']([^"']+)["']/.exec(success)![1]!;
    await first.waitFor('</stream:features>');
    first.socket.destroy();
    const sender = await connect();
    await scramLogin(sender, `<bind xmlns='urn:xmpp:bind:0'/>`);
    sender.send(`<message to='${jid}' type='chat'><body>while away</body></message>`);
    const second = await connect();
    const resumed = await scramLogin(second, `${userAgent(agent)}<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/><bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag></bind>`);
    assert.match(resumed, new RegExp(`<authorization-identifier>${jid.replace(/[/.]/g, '\\$&')}</authorization-identifier><resumed xmlns=["']urn:xmpp:sm:3["'] previd=["']${id}["']`));
    assert.doesNotMatch(resumed, /<bound /);
    await second.waitFor('<body>while away</body>');
    // An unknown session: <failed/>, then Bind 2 makes a new one.
    const third = await connect();
    const fresh = await scramLogin(third, `<resume xmlns='urn:xmpp:sm:3' previd='nope' h='0'/><bind xmlns='urn:xmpp:bind:0'/>`);
    assert.match(fresh, /<failed xmlns=["']urn:xmpp:sm:3["']><item-not-found [^>]*\/><\/failed><bound /);
  });
});

describe('FAST failures in the login throttle', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('c2s:\n  scram_iterations: 4096\n  auth_failure_delay: 10\n  max_auth_failures: 20\nlimits:\n  auth: { max_failures_per_account_address: 2, block_duration: 120 }\n');
    await server.addUser('alice', 'localhost', 'secret');
  });
  after(() => server.stop());

  test('wrong tokens count as failed logins: past the limit even the right token is refused from that address', async () => {
    const agent = randomUUID();
    const client = await connectTls(server);
    const token = tokenIn(await scramLogin(client, `${userAgent(agent)}<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>`));
    client.close();
    for (let i = 0; i < 2; i++) {
      const guesser = await connectTls(server);
      assert.match(await tokenLogin(guesser, `${token}x`, userAgent(agent)), /<not-authorized /);
      guesser.close();
    }
    const owner = await connectTls(server);
    assert.match(await tokenLogin(owner, token, userAgent(agent)), /<temporary-auth-failure [^>]*\/><text>too many failed logins/);
    owner.close();
  });
});
