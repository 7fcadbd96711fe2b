/**
 * Discovery and account services over raw client streams: service discovery and entity
 * capabilities (XEP-0030, XEP-0115), software version (XEP-0092), vCard-temp (XEP-0054),
 * private XML storage (XEP-0049) and in-band registration (XEP-0077).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { capsHash } from '../src/modules/disco/caps.ts';
import { hostDiscoInfo } from '../src/modules/disco/host-info.ts';
import { RawClient, streamHeader } from './support/raw-client.ts';
import { connectTls, login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CONFIG = `
hosts:
  localhost:
    registration: { enabled: true, max_per_ip_per_hour: 3 }
    disco: { items: [conference.elsewhere.example, pubsub.elsewhere.example] }
  quiet.test:
    modules_disabled: [version, vcard]
  hidden.test:
    version: { hidden: true }
`;

let nextId = 0;

/** Sends an IQ (the `ID` placeholder becomes a fresh id) and resolves with the reply. */
async function iq(client: RawClient, xml: string): Promise<string> {
  const id = `q${++nextId}`;
  client.clear();
  client.send(xml.replace('ID', id));
  const reply = new RegExp(`<iq[^>]*id=["']${id}["'][^>]*?(/>|>[\\s\\S]*?</iq>)`);
  const received = await client.waitFor(reply);
  return reply.exec(received)![0];
}

function assertError(reply: string, condition: string, type?: string): void {
  assert.match(reply, /type=["']error["']/, reply);
  assert.match(reply, new RegExp(`<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/>`), reply);
  if (type) assert.match(reply, new RegExp(`<error type=["']${type}["']`), reply);
}

function assertResult(reply: string): void {
  assert.match(reply, /type=["']result["']/, reply);
}

const DISCO_INFO = "<query xmlns='http://jabber.org/protocol/disco#info'/>";
const DISCO_ITEMS = "<query xmlns='http://jabber.org/protocol/disco#items'/>";

describe('discovery and account services', () => {
  let server: TestServer;
  let alice: RawClient;
  before(async () => {
    server = await startTestServer(CONFIG);
    await server.addUser('alice', 'localhost', 'secret');
    await server.addUser('bob', 'localhost', 'secret');
    await server.addUser('carol', 'localhost', 'secret');
    await server.addUser('quinn', 'quiet.test', 'secret');
    await server.addUser('hana', 'hidden.test', 'secret');
    ({ client: alice } = await login(server, { username: 'alice', password: 'secret', resource: 'desk' }));
  });
  after(async () => {
    alice.close();
    await server.stop();
  });

  describe('service discovery (XEP-0030) and entity capabilities (XEP-0115)', () => {
    test("the host's disco#info lists its identity, disco itself and the features of its modules", async () => {
      const reply = await iq(alice, `<iq type='get' to='localhost' id='ID'>${DISCO_INFO}</iq>`);
      assertResult(reply);
      assert.match(reply, /<identity category=["']server["'] type=["']im["'] name=["']Trellis["']\/>/);
      for (const feature of ['http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'urn:xmpp:ping', 'jabber:iq:version', 'vcard-temp', 'jabber:iq:register']) {
        assert.match(reply, new RegExp(`<feature var=["']${feature}["']/>`), feature);
      }
    });

    test("the host's disco#items lists the configured items, services elsewhere included", async () => {
      const reply = await iq(alice, `<iq type='get' to='localhost' id='ID'>${DISCO_ITEMS}</iq>`);
      assertResult(reply);
      assert.match(reply, /<item jid=["']conference\.elsewhere\.example["']\/><item jid=["']pubsub\.elsewhere\.example["']\/>/);
    });

    test('an unknown node is item-not-found', async () => {
      assertError(await iq(alice, `<iq type='get' to='localhost' id='ID'><query xmlns='http://jabber.org/protocol/disco#info' node='nowhere'/></iq>`), 'item-not-found');
      assertError(await iq(alice, `<iq type='get' to='localhost' id='ID'><query xmlns='http://jabber.org/protocol/disco#items' node='nowhere'/></iq>`), 'item-not-found');
    });

    test('the caps in the stream features match disco#info at NODE#VER (XEP-0115 sections 6.2 and 6.3)', async () => {
      const host = server.server.router.hosts.get('localhost')!;
      const ver = capsHash(hostDiscoInfo(host));
      const features = await authenticatedFeatures(server, 'carol');
      assert.match(features, new RegExp(`<c xmlns=["']http://jabber.org/protocol/caps["'] hash=["']sha-1["'] node=["']https://trellis.example/caps["'] ver=["']${escapeRegExp(ver)}["']/>`));
      const reply = await iq(alice, `<iq type='get' to='localhost' id='ID'><query xmlns='http://jabber.org/protocol/disco#info' node='https://trellis.example/caps#${ver}'/></iq>`);
      assertResult(reply);
      assert.match(reply, new RegExp(`node=["']https://trellis.example/caps#${escapeRegExp(ver)}["']`));
      assert.match(reply, /<feature var=["']urn:xmpp:ping["']\/>/);
    });

    test('an account answers its own disco#info as account/registered', async () => {
      const reply = await iq(alice, `<iq type='get' to='alice@localhost' id='ID'>${DISCO_INFO}</iq>`);
      assertResult(reply);
      assert.match(reply, /<identity category=["']account["'] type=["']registered["']\/>/);
      assertResult(await iq(alice, `<iq type='get' id='ID'>${DISCO_ITEMS}</iq>`));
    });

    test("another account's disco#info: answered for a contact with a subscription, service-unavailable for anyone else", async () => {
      assertError(await iq(alice, `<iq type='get' to='bob@localhost' id='ID'>${DISCO_INFO}</iq>`), 'service-unavailable');
      assertError(await iq(alice, `<iq type='get' to='nobody@localhost' id='ID'>${DISCO_INFO}</iq>`), 'service-unavailable');
      await server.server.storage.rosters.setItem('localhost', 'bob', { jid: 'alice@localhost', subscription: 'from', askOut: false, askIn: false, approved: false, groups: [] });
      const reply = await iq(alice, `<iq type='get' to='bob@localhost' id='ID'>${DISCO_INFO}</iq>`);
      assertResult(reply);
      assert.match(reply, /from=["']bob@localhost["']/);
      assert.match(reply, /category=["']account["']/);
      assertResult(await iq(alice, `<iq type='get' to='bob@localhost' id='ID'>${DISCO_ITEMS}</iq>`));
    });

    test('a disabled module has no feature and its requests get service-unavailable', async () => {
      const { client } = await login(server, { username: 'quinn', password: 'secret', domain: 'quiet.test' });
      const info = await iq(client, `<iq type='get' to='quiet.test' id='ID'>${DISCO_INFO}</iq>`);
      assert.doesNotMatch(info, /jabber:iq:version|vcard-temp/);
      assert.match(info, /urn:xmpp:ping/);
      assertError(await iq(client, `<iq type='get' to='quiet.test' id='ID'><query xmlns='jabber:iq:version'/></iq>`), 'service-unavailable');
      assertError(await iq(client, `<iq type='get' id='ID'><vCard xmlns='vcard-temp'/></iq>`), 'service-unavailable');
      client.close();
    });
  });

  describe('software version (XEP-0092)', () => {
    test('name and version, no operating system', async () => {
      const reply = await iq(alice, `<iq type='get' to='localhost' id='ID'><query xmlns='jabber:iq:version'/></iq>`);
      assertResult(reply);
      assert.match(reply, /<name>Trellis<\/name><version>\d+\.\d+\.\d+[^<]*<\/version>/);
      assert.doesNotMatch(reply, /<os>/);
    });

    test('hidden: service-unavailable, and no feature', async () => {
      const { client } = await login(server, { username: 'hana', password: 'secret', domain: 'hidden.test' });
      assertError(await iq(client, `<iq type='get' to='hidden.test' id='ID'><query xmlns='jabber:iq:version'/></iq>`), 'service-unavailable');
      assert.doesNotMatch(await iq(client, `<iq type='get' to='hidden.test' id='ID'>${DISCO_INFO}</iq>`), /jabber:iq:version/);
      client.close();
    });
  });

  describe('vCard-temp (XEP-0054)', () => {
    test('own vCard: empty before any set, then what was stored', async () => {
      const { client } = await login(server, { username: 'carol', password: 'secret' });
      const empty = await iq(client, `<iq type='get' id='ID'><vCard xmlns='vcard-temp'/></iq>`);
      assertResult(empty);
      assert.match(empty, /<vCard xmlns=["']vcard-temp["']\/>/);
      assertResult(await iq(client, `<iq type='set' id='ID'><vCard xmlns='vcard-temp'><FN>Carol &amp; Co</FN><NICKNAME>caro</NICKNAME></vCard></iq>`));
      assert.match(await iq(client, `<iq type='get' to='carol@localhost' id='ID'><vCard xmlns='vcard-temp'/></iq>`), /<vCard xmlns=["']vcard-temp["']><FN>Carol &amp; Co<\/FN><NICKNAME>caro<\/NICKNAME><\/vCard>/);
      client.close();
    });

    test("another user's vCard: read by bare JID, item-not-found when none, forbidden to set", async () => {
      const { client } = await login(server, { username: 'bob', password: 'secret' });
      assertResult(await iq(client, `<iq type='set' id='ID'><vCard xmlns='vcard-temp'><FN>Bob</FN></vCard></iq>`));
      client.close();
      const reply = await iq(alice, `<iq type='get' to='bob@localhost' id='ID'><vCard xmlns='vcard-temp'/></iq>`);
      assertResult(reply);
      assert.match(reply, /from=["']bob@localhost["']/);
      assert.match(reply, /<FN>Bob<\/FN>/);
      assertError(await iq(alice, `<iq type='get' to='nobody@localhost' id='ID'><vCard xmlns='vcard-temp'/></iq>`), 'item-not-found');
      assertError(await iq(alice, `<iq type='set' to='bob@localhost' id='ID'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>`), 'forbidden');
    });
  });

  describe('private XML storage (XEP-0049)', () => {
    test('set then get by namespace; unknown namespaces come back empty', async () => {
      assertResult(await iq(alice, `<iq type='set' id='ID'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'><theme>dark</theme></prefs><storage xmlns='storage:bookmarks'><conference jid='room@muc.example'/></storage></query></iq>`));
      assert.match(
        await iq(alice, `<iq type='get' id='ID'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>`),
        /<query xmlns=["']jabber:iq:private["']><prefs xmlns=["']urn:example:prefs["']><theme>dark<\/theme><\/prefs><\/query>/,
      );
      assert.match(await iq(alice, `<iq type='get' id='ID'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>`), /<conference jid=["']room@muc\.example["']\/>/);
      assert.match(await iq(alice, `<iq type='get' id='ID'><query xmlns='jabber:iq:private'><other xmlns='urn:example:none'/></query></iq>`), /<query xmlns=["']jabber:iq:private["']><other xmlns=["']urn:example:none["']\/><\/query>/);
      assertResult(await iq(alice, `<iq type='set' id='ID'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'><theme>light</theme></prefs></query></iq>`));
      assert.match(await iq(alice, `<iq type='get' id='ID'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>`), /<theme>light<\/theme>/);
    });

    test("another user's data is forbidden; reserved namespaces are not-acceptable; no child is bad-request", async () => {
      assertError(await iq(alice, `<iq type='get' to='bob@localhost' id='ID'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>`), 'forbidden');
      assertError(await iq(alice, `<iq type='set' to='bob@localhost' id='ID'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>`), 'forbidden');
      assertError(await iq(alice, `<iq type='set' id='ID'><query xmlns='jabber:iq:private'><vCard xmlns='vcard-temp'/></query></iq>`), 'not-acceptable');
      assertError(await iq(alice, `<iq type='get' id='ID'><query xmlns='jabber:iq:private'><x xmlns='jabber:x:data'/></query></iq>`), 'not-acceptable');
      assertError(await iq(alice, `<iq type='get' id='ID'><query xmlns='jabber:iq:private'/></iq>`), 'bad-request');
      assertError(await iq(alice, `<iq type='set' id='ID'><query xmlns='jabber:iq:private'/></iq>`), 'bad-request');
      assertError(await iq(alice, `<iq type='get' id='ID'><query xmlns='jabber:iq:private'><a xmlns='urn:a'/><b xmlns='urn:b'/></query></iq>`), 'bad-request');
    });
  });

  describe('in-band registration (XEP-0077)', () => {
    test('enabled: the stream feature, the form, then a new account that can log in', async () => {
      const client = await connectTls(server);
      assert.match(client.received, /<register xmlns=["']http:\/\/jabber.org\/features\/iq-register["']\/>/);
      const form = await iq(client, `<iq type='get' id='ID'><query xmlns='jabber:iq:register'/></iq>`);
      assertResult(form);
      assert.match(form, /<instructions>[^<]+<\/instructions><username\/><password\/>/);
      assertResult(await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>Dave</username><password>dave-pw</password></query></iq>`));
      client.close();
      const { client: dave, jid } = await login(server, { username: 'dave', password: 'dave-pw' });
      assert.equal(jid.split('/')[0], 'dave@localhost');
      dave.close();
    });

    test('a taken username is conflict; empty or invalid fields are not-acceptable', async () => {
      const client = await connectTls(server);
      assertError(await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>alice</username><password>x</password></query></iq>`), 'conflict');
      assertError(await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>erin</username><password/></query></iq>`), 'not-acceptable');
      assertError(await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><password>x</password></query></iq>`), 'not-acceptable');
      assertError(await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>bad@name</username><password>x</password></query></iq>`), 'not-acceptable');
      assertError(await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><remove/></query></iq>`), 'not-authorized');
      client.close();
    });

    test('disabled: no stream feature, and service-unavailable', async () => {
      const client = await connectTls(server, 'quiet.test');
      assert.doesNotMatch(client.received, /iq-register/);
      assertError(await iq(client, `<iq type='get' id='ID'><query xmlns='jabber:iq:register'/></iq>`), 'service-unavailable');
      assertError(await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>x</username><password>y</password></query></iq>`), 'service-unavailable');
      client.close();
    });

    test('one address may register only max_per_ip_per_hour accounts', async () => {
      // 'dave' above was the first of 3 from 127.0.0.1.
      const client = await connectTls(server);
      for (const name of ['frank', 'grace']) {
        assertResult(await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>${name}</username><password>pw</password></query></iq>`));
      }
      const refused = await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>heidi</username><password>pw</password></query></iq>`);
      assertError(refused, 'policy-violation', 'wait');
      assert.match(refused, /<text[^>]*>at most 3 accounts per hour/);
      assert.equal(await server.server.storage.accounts.get('localhost', 'heidi'), undefined);
      // Asking again is refused alike each time; the log has one line per limits.log_interval.
      for (const name of ['ivan', 'judy', 'mallory']) {
        assertError(await iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>${name}</username><password>pw</password></query></iq>`), 'policy-violation', 'wait');
      }
      const warnings = server.logLines.filter((line) => line.includes('registration refused: too many from one address'));
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /address=127\.0\.0\.1/);
      client.close();
    });

    test('a logged-in user changes their password, and only their own', async () => {
      const { client } = await login(server, { username: 'frank', password: 'pw' });
      const registered = await iq(client, `<iq type='get' id='ID'><query xmlns='jabber:iq:register'/></iq>`);
      assert.match(registered, /<registered\/><username>frank<\/username>/);
      assertError(await iq(client, `<iq type='set' to='localhost' id='ID'><query xmlns='jabber:iq:register'><username>alice</username><password>mine</password></query></iq>`), 'forbidden');
      assertError(await iq(client, `<iq type='set' to='localhost' id='ID'><query xmlns='jabber:iq:register'><username>frank</username><password/></query></iq>`), 'bad-request');
      assertResult(await iq(client, `<iq type='set' to='localhost' id='ID'><query xmlns='jabber:iq:register'><username>frank</username><password>new-pw</password></query></iq>`));
      client.close();
      assert.equal(await plainLogin(server, 'frank', 'pw'), 'failure');
      assert.equal(await plainLogin(server, 'frank', 'new-pw'), 'success');
    });

    test('removing the account answers, deletes everything and ends every session with not-authorized', async () => {
      const first = await login(server, { username: 'grace', password: 'pw', resource: 'one' });
      const second = await login(server, { username: 'grace', password: 'pw', resource: 'two' });
      assertResult(await iq(first.client, `<iq type='set' id='ID'><query xmlns='jabber:iq:private'><p xmlns='urn:example:p'/></query></iq>`));
      assertError(await iq(first.client, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><remove/><username>grace</username></query></iq>`), 'bad-request');
      first.client.clear();
      first.client.send(`<iq type='set' id='gone'><query xmlns='jabber:iq:register'><remove/></query></iq>`);
      const received = await first.client.waitFor('</stream:stream>');
      assert.match(received, /<iq[^>]*id=["']gone["'][^>]*type=["']result["']|<iq[^>]*type=["']result["'][^>]*id=["']gone["']/);
      assert.ok(received.indexOf('gone') < received.indexOf('<stream:error>'), 'the result comes before the stream error');
      assert.match(received, /<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
      await second.client.waitFor(/<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
      await first.client.waitClosed();
      await second.client.waitClosed();
      assert.equal(await server.server.storage.accounts.get('localhost', 'grace'), undefined);
      assert.deepEqual(await server.server.storage.userData.keys('localhost', 'grace'), []);
      assert.equal(await plainLogin(server, 'grace', 'pw'), 'failure');
    });
  });
});

describe('in-band registration where TLS is optional', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('c2s: { require_tls: false, scram_iterations: 4096 }\nregistration: { enabled: true }\n');
  });
  after(async () => {
    await server.stop();
  });

  test('is refused on an unencrypted stream and accepted after STARTTLS', async () => {
    const plain = await RawClient.connect(server.port);
    plain.send(streamHeader('localhost'));
    await plain.waitFor('</stream:features>');
    assertError(await iq(plain, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>ivan</username><password>pw</password></query></iq>`), 'not-authorized');
    plain.close();
    const secure = await connectTls(server);
    assertResult(await iq(secure, `<iq type='set' id='ID'><query xmlns='jabber:iq:register'><username>ivan</username><password>pw</password></query></iq>`));
    secure.close();
  });
});

/** Authenticates with SASL PLAIN on a fresh stream and closes it; says whether it worked. */
async function plainLogin(server: TestServer, username: string, password: string): Promise<'success' | 'failure'> {
  const client = await connectTls(server);
  try {
    return await plainAuth(client, username, password);
  } finally {
    client.close();
  }
}

async function plainAuth(client: RawClient, username: string, password: string): Promise<'success' | 'failure'> {
  client.clear();
  client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString('base64')}</auth>`);
  return (await client.waitFor(/<success|<failure/)).includes('<success') ? 'success' : 'failure';
}

/** The <stream:features/> after SASL: logs in by hand up to the restarted stream. */
async function authenticatedFeatures(server: TestServer, username: string): Promise<string> {
  const client = await connectTls(server);
  assert.equal(await plainAuth(client, username, 'secret'), 'success');
  client.clear();
  client.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
  const features = await client.waitFor('</stream:features>');
  client.close();
  return features;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
