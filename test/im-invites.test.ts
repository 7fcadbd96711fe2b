/**
 * Invitations to register (XEP-0401 account creation, XEP-0445 pre-authenticated in-band
 * registration) at the byte level, on a host whose open registration is off: the stream feature,
 * a token checked then used by one registration only, a username an invitation reserves, expiry,
 * and the administrators' create-account command.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInvite } from '../src/modules/register/invites.ts';
import { iqReply, type RawClient } from './support/raw-client.ts';
import { connectTls, login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer('admins: [boss@localhost]\n');
  await server.addUser('boss', 'localhost', 'secret');
});
after(() => server.stop());

/** A client on STARTTLS, not logged in: what an invited client has when it registers. */
const newcomer = (): Promise<RawClient> => connectTls(server);

const preauth = (client: RawClient, token: string) => iqReply(client, `<iq type='set' id='ID' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`);
const register = (client: RawClient, username: string, password = 'new-pw') =>
  iqReply(client, `<iq type='set' id='ID' to='localhost'><query xmlns='jabber:iq:register'><username>${username}</username><password>${password}</password></query></iq>`);
const invite = (username?: string, expires = Date.now() + 60_000) => createInvite(server.server.storage, { domain: 'localhost', ...(username ? { username } : {}), expires });

test('the server offers pre-authenticated registration; without an invitation registration is refused', async () => {
  const client = await newcomer();
  assert.match(client.received, /<register xmlns=["']urn:xmpp:ibr-token:0["']\/>/);
  assert.doesNotMatch(client.received, /http:\/\/jabber.org\/features\/iq-register/, 'open registration is off');
  assert.match(await register(client, 'stranger'), /<service-unavailable/);
  assert.match(await preauth(client, 'not-a-token'), /<item-not-found/);
  assert.match(await register(client, 'stranger'), /<service-unavailable/);
  client.close();
});

test('an invitation registers one account, which logs in; the token is then used', async () => {
  const { token } = await invite();
  const client = await newcomer();
  assert.match(await preauth(client, token), /type=["']result["']/);
  assert.match(await iqReply(client, "<iq type='get' id='ID' to='localhost'><query xmlns='jabber:iq:register'/></iq>"), /<username\/>/);
  assert.match(await register(client, 'juliet', 'juliet-pw'), /type=["']result["']/);
  client.close();
  (await login(server, { username: 'juliet', password: 'juliet-pw', resource: 'r' })).client.close();

  const again = await newcomer();
  assert.match(await preauth(again, token), /<item-not-found/);
  again.close();
  // A registration that fails (the username is taken) leaves the invitation for another try.
  const { token: second } = await invite();
  const retry = await newcomer();
  await preauth(retry, second);
  assert.match(await register(retry, 'juliet'), /<conflict/);
  assert.match(await register(retry, 'romeo'), /type=["']result["']/);
  assert.match(await register(retry, 'mercutio'), /<service-unavailable/, 'one invitation, one account');
  retry.close();
});

test('an invitation for a username registers that one only; an expired one is refused and removed', async () => {
  const { token } = await invite('nurse');
  const client = await newcomer();
  await preauth(client, token);
  assert.match(await iqReply(client, "<iq type='get' id='ID' to='localhost'><query xmlns='jabber:iq:register'/></iq>"), /<username>nurse<\/username>/);
  assert.match(await register(client, 'tybalt'), /<not-allowed/);
  assert.match(await register(client, 'nurse'), /type=["']result["']/);
  client.close();

  const expired = await invite(undefined, Date.now() - 1);
  const late = await newcomer();
  assert.match(await preauth(late, expired.token), /<item-not-found/);
  assert.equal(await server.server.storage.serverData.get(`invite:${expired.token}`), undefined);
  late.close();
});

test("an administrator's create-account command gives an invitation that works", async () => {
  const { client: boss } = await login(server, { username: 'boss', password: 'secret', resource: 'desk' });
  const NS = 'http://jabber.org/protocol/commands';
  const started = await iqReply(boss, `<iq type='set' id='ID' to='localhost'><command xmlns='${NS}' node='urn:xmpp:invite#create-account' action='execute'/></iq>`);
  const sessionid = /sessionid=["']([^"']+)["']/.exec(started)![1];
  const done = await iqReply(boss, `<iq type='set' id='ID' to='localhost'><command xmlns='${NS}' node='urn:xmpp:invite#create-account' sessionid='${sessionid}'><x xmlns='jabber:x:data' type='submit'><field var='username'><value>benvolio</value></field></x></command></iq>`);
  const uri = /<field var=["']uri["'][^>]*><value>([^<]+)<\/value>/.exec(done)?.[1];
  assert.match(uri ?? '', /^xmpp:benvolio@localhost\?register;preauth=[A-Za-z0-9_-]{32}$/);
  assert.match(done, /<field var=["']expire["'][^>]*><value>\d{4}-/);
  boss.close();

  const client = await newcomer();
  assert.match(await preauth(client, uri!.split('preauth=')[1]!), /type=["']result["']/);
  assert.match(await register(client, 'benvolio'), /type=["']result["']/);
  client.close();
});
