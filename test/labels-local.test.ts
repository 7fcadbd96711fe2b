/**
 * Security labels between users of one server and in its rooms (XEP-0258 sections 5.1 and 5.2,
 * docs/labels.md), with the page's example configuration and clients logged in over real
 * streams: a labelled message above the sender's clearance bounces with forbidden and the key,
 * one within both clearances arrives, an unlabelled one arrives with the default label; a user
 * not cleared for a room's label cannot enter; an occupant gets only the room's messages (and
 * history) its clearance covers; a message above the room's clearance is refused; each refusal
 * is in the audit trail with the direction local.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { login } from './support/login.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const DOC = readFileSync(new URL('../docs/labels.md', import.meta.url), 'utf8');
const EXAMPLE = /```yaml\n# example: labels-local\n([\s\S]*?)```/.exec(DOC)![1]!;
const BOARD = 'board@conference.example.com';
const PASSWORD = 'secret';

const label = (classification: string, ...categories: string[]) =>
  `<securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking>${[classification, ...categories].join(' ').toUpperCase()}</displaymarking><label><seclabel xmlns='urn:xmpp:trellis:sec-label:0' policy='acme' classification='${classification}'>${categories.map((c) => `<category>${c}</category>`).join('')}</seclabel></label></securitylabel>`;

/** The stanza with this id, once it arrived. */
async function stanzaWithId(client: RawClient, id: string): Promise<string> {
  const pattern = new RegExp(`<(message|presence|iq)[^>]*id=["']${id}["'][^>]*(?:/>|>[\\s\\S]*?</\\1>)`);
  return pattern.exec(await client.waitFor(pattern, 10_000))![0];
}

describe('security labels between users of this server and in its rooms', () => {
  let server: TestServer;
  /** by username, logged in once */
  const clients = new Map<string, RawClient>();
  const online = async (username: string): Promise<RawClient> => {
    const known = clients.get(username);
    if (known) return known;
    const { client } = await login(server, { username, password: PASSWORD, domain: 'example.com', resource: 'desk' });
    client.send(`<presence/>`);
    clients.set(username, client);
    return client;
  };

  before(async () => {
    server = await startTestServer(EXAMPLE.replace('s2s:\n', 's2s:\n  peering_audit: { write_interval: 1 }\n'));
    for (const user of ['ceo', 'cfo', 'bob']) await server.addUser(user, 'example.com', PASSWORD);
  });
  after(async () => {
    for (const client of clients.values()) client.close();
    await server.stop();
  });

  test('between two users: above the sender\'s clearance bounces with forbidden and the key; within both arrives; unlabelled gets the default label', async () => {
    const bob = await online('bob');
    const cfo = await online('cfo');
    bob.send(`<message to='cfo@example.com' type='chat' id='too-high'><body>merger plans</body>${label('confidential')}</message>`);
    const bounced = await stanzaWithId(bob, 'too-high');
    assert.match(bounced, /type=["']error["'][\s\S]*<forbidden /);
    assert.match(bounced, /sender bob@example\.com's clearance RESTRICTED \(s2s\.security_labels\.clearances\["\*@example\.com"\]\)/);
    assert.doesNotMatch(bounced, /<securitylabel/);
    assert.doesNotMatch(bounced, /merger plans/, 'XEP-0258 section 5: the error carries none of the refused content');
    bob.send(`<message to='cfo@example.com' type='chat' id='fine'><body>lunch at noon</body>${label('restricted')}</message>`);
    bob.send(`<message to='cfo@example.com' type='chat' id='plain'><body>no label</body></message>`);
    assert.match(await stanzaWithId(cfo, 'fine'), /<displaymarking>RESTRICTED<\/displaymarking>/);
    assert.match(await stanzaWithId(cfo, 'plain'), /<displaymarking>UNCLASSIFIED<\/displaymarking>/);
    // What went before the two that arrived never will.
    assert.doesNotMatch(cfo.received, /merger plans/);
  });

  test("a room's label keeps out whoever is not cleared for it; its messages reach only the occupants cleared for them, history too", async () => {
    const ceo = await online('ceo');
    /** The room's answer: our own presence in it (status 110), or the error. */
    const join = async (client: RawClient, nick: string, id: string): Promise<string> => {
      client.send(`<presence to='${BOARD}/${nick}' id='${id}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      const answer = new RegExp(`<presence[^>]*(?:id=["']${id}["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']${id}["'])[\\s\\S]*?</presence>|<presence[^>]*from=["']${BOARD}/${nick}["'][\\s\\S]*?</presence>`);
      return answer.exec(await client.waitFor(answer, 10_000))![0];
    };
    assert.match(await join(ceo, 'ceo', 'join-ceo'), /status code=["']110["']/);
    ceo.send(`<iq type='set' to='${BOARD}' id='instant'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    assert.match(await stanzaWithId(ceo, 'instant'), /type=["']result["']/);
    // Before cfo enters: history with one message cfo is cleared for and one it is not.
    ceo.send(`<message to='${BOARD}' type='groupchat' id='h-secret'><body>history secret</body>${label('secret', 'finance')}</message>`);
    ceo.send(`<message to='${BOARD}' type='groupchat' id='h-conf'><body>history confidential</body>${label('confidential', 'finance')}</message>`);
    await stanzaWithId(ceo, 'h-conf');

    const bob = await online('bob');
    const refused = await join(bob, 'bob', 'join-bob');
    assert.match(refused, /type=["']error["'][\s\S]*<forbidden /);
    assert.match(refused, /s2s\.security_labels\.rooms\["board@conference\.example\.com"\]\.label/);

    const cfo = await online('cfo');
    cfo.clear();
    assert.match(await join(cfo, 'cfo', 'join-cfo'), /status code=["']110["']/);
    await cfo.waitFor('history confidential');
    assert.doesNotMatch(cfo.received, /history secret/);

    ceo.send(`<message to='${BOARD}' type='groupchat' id='live-secret'><body>live secret</body>${label('secret', 'finance')}</message>`);
    ceo.send(`<message to='${BOARD}' type='groupchat' id='live-plain'><body>live unlabelled</body></message>`);
    assert.match(await stanzaWithId(ceo, 'live-secret'), /live secret/);
    assert.match(await stanzaWithId(cfo, 'live-plain'), /<displaymarking>UNCLASSIFIED<\/displaymarking>/);
    assert.doesNotMatch(cfo.received, /live secret/);

    // Above the room's clearance: refused, and nobody gets it.
    ceo.send(`<message to='${BOARD}' type='groupchat' id='too-legal'><body>the lawsuit</body>${label('secret', 'legal')}</message>`);
    const bounced = await stanzaWithId(ceo, 'too-legal');
    assert.match(bounced, /type=["']error["'][\s\S]*<forbidden /);
    assert.match(bounced, /rooms\["board@conference\.example\.com"\]\.clearance/);
    assert.doesNotMatch(bounced, /the lawsuit/);
    ceo.send(`<message to='${BOARD}' type='groupchat' id='after'><body>after the refusal</body></message>`);
    await stanzaWithId(cfo, 'after');
    assert.doesNotMatch(cfo.received, /the lawsuit/);
  });

  test('refusals are in the audit trail with the direction local and the key that decided', async () => {
    const rules = ['s2s.security_labels.clearances["*@example.com"]', 's2s.security_labels.rooms["board@conference.example.com"].label', 's2s.security_labels.rooms["board@conference.example.com"].clearance'];
    const deadline = Date.now() + 10_000;
    let found: string[] = [];
    while (Date.now() < deadline) {
      const records = await server.server.storage.policyAudit.query({ limit: 100, verdict: 'refuse' });
      found = records.filter((record) => record.direction === 'local').map((record) => record.rule);
      if (rules.every((rule) => found.includes(rule))) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(rules.filter((rule) => !found.includes(rule)), [], `recorded: ${found.join(', ')}`);
  });
});
