/**
 * Message archives (XEP-0313) with real clients: slixmpp (Debian python3-slixmpp, with its
 * xep_0313 and xep_0059 plugins) pages through an archive with RSM, forward and backward, and
 * sees the stanza IDs its messages carry; @xmpp/client sends the messages and asks for the
 * archive's metadata.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSlixmpp } from './support/slixmpp.ts';
import { startXmppjs } from './support/xmppjs.ts';

const PASSWORD = 'correct horse';
const MESSAGES = 23;

interface ArchivedResult {
  id: string;
  from: string;
  body: string;
  stamp: string;
}

describe('message archives with real clients', () => {
  let server: TestServer;
  const clients: ClientDriver[] = [];

  before(async () => {
    server = await startTestServer('mam: { page_size: 5 }\n');
    for (const user of ['romeo', 'juliet']) await server.addUser(user, 'localhost', PASSWORD);
  });
  after(async () => {
    for (const client of clients) client.stop();
    await server.stop();
  });

  test('slixmpp pages through 23 archived messages 5 at a time, forward and in reverse; @xmpp/client reads the metadata', async () => {
    const juliet = await startSlixmpp(server, 'juliet@localhost/balcony', PASSWORD);
    clients.push(juliet);
    const romeo = await startXmppjs(server, 'romeo', 'localhost', PASSWORD, 'orchard');
    clients.push(romeo);
    for (let n = 1; n <= MESSAGES; n++) await romeo.ok({ op: 'message', to: 'juliet@localhost/balcony', body: `line ${n}` });
    await juliet.waitEvent((event: DriverEvent) => event.event === 'message' && event.body === `line ${MESSAGES}`);

    const forward = (await juliet.ok({ op: 'mam_iterate', with: 'romeo@localhost', page: 5 })).messages as ArchivedResult[];
    assert.deepEqual(forward.map((message) => message.body), Array.from({ length: MESSAGES }, (_, i) => `line ${i + 1}`));
    assert.ok(forward.every((message) => message.from === romeo.jid));
    assert.equal(new Set(forward.map((message) => message.id)).size, MESSAGES, 'every message has its own UID');
    const stamps = forward.map((message) => Date.parse(message.stamp));
    assert.deepEqual(stamps, [...stamps].sort((a, b) => a - b), 'stamps follow the archive order');

    const reverse = (await juliet.ok({ op: 'mam_iterate', with: 'romeo@localhost', page: 5, reverse: true })).messages as ArchivedResult[];
    assert.deepEqual(reverse.map((message) => message.body), forward.map((message) => message.body).reverse());
    assert.deepEqual((await juliet.ok({ op: 'mam_iterate', with: 'nobody@localhost', page: 5 })).messages, []);

    const metadata = await romeo.ok({ op: 'iq_xml', xml: "<iq type='get' id='meta1'><metadata xmlns='urn:xmpp:mam:2'/></iq>" });
    const xml = String(metadata.xml);
    assert.match(xml, /<start id="[^"]+" timestamp="\d{4}-\d\d-\d\dT[\d:.]+Z"\/>/, xml);
    assert.match(xml, /<end id="[^"]+"/, xml);
  });
});
