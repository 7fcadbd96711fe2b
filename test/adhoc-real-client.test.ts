/**
 * Service administration (XEP-0133) from a real client: slixmpp (Debian's python3-slixmpp)
 * lists the server's commands and runs them through its ad-hoc commands workflow (XEP-0050),
 * each form filled in and completed as a client's command dialog does; a second slixmpp
 * client is the account they act on, or, with the invitation command (XEP-0401), the contact
 * who presents the invitation's token (XEP-0379).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientDriver } from './support/client-driver.ts';
import { startSlixmpp, startSlixmppAdhoc } from './support/slixmpp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const ADMIN = 'http://jabber.org/protocol/admin';

describe('service administration from slixmpp', () => {
  let server: TestServer;
  let admin: ClientDriver;
  before(async () => {
    server = await startTestServer('admins: [root@localhost]\n');
    await server.addUser('root', 'localhost', 'rootpw');
    admin = await startSlixmppAdhoc(server, 'root@localhost/console', 'rootpw');
  });
  after(async () => {
    await admin?.disconnect();
    await server.stop();
  });

  /** Runs an administration command through; its final status, notes and result values. */
  const admin133 = async (command: string, fields: Record<string, string | string[]> = {}) => {
    const { status, notes, values } = (await admin.ok({ op: 'admin', command, fields })) as unknown as { status: string; notes: [string, string][]; values: Record<string, string | string[]> };
    return { status, notes, values };
  };

  test('the command list names each command', async () => {
    const { commands } = (await admin.ok({ op: 'commands' })) as unknown as { commands: { node: string; name: string }[] };
    assert.deepEqual(commands.find((command) => command.node === `${ADMIN}#add-user`), { node: `${ADMIN}#add-user`, name: 'Add User' });
    assert.equal(commands.length, 12, 'the eleven administration commands and the invitation');
  });

  test('an account added by command logs in, hears an announcement, and is counted; deleted, its session ends', async () => {
    const added = await admin133('add-user', { accountjid: 'fresh@localhost', password: 'fresh-pw', 'password-verify': 'fresh-pw' });
    assert.deepEqual(added, { status: 'completed', notes: [['info', 'fresh@localhost was added']], values: {} });
    const fresh = await startSlixmpp(server, 'fresh@localhost/phone', 'fresh-pw');
    try {
      const online = await admin133('get-online-users-list', { max_items: 'none' });
      assert.deepEqual(online.values.onlineuserjids, ['fresh@localhost', 'root@localhost']);
      assert.equal((await admin133('get-registered-users-num')).values.registeredusersnum, '2');

      assert.deepEqual((await admin133('announce', { announcement: ['Restart at noon.'] })).notes, [['info', 'sent to 2 sessions']]);
      const announcement = await fresh.waitEvent((event) => event.event === 'message' && event.body === 'Restart at noon.');
      assert.equal(announcement.from, 'localhost');

      assert.deepEqual((await admin133('delete-user', { accountjids: ['fresh@localhost'] })).notes, [['info', 'deleted: fresh@localhost']]);
      await fresh.waitEvent((event) => event.event === 'disconnected');
      assert.equal(await server.server.storage.accounts.get('localhost', 'fresh'), undefined);
    } finally {
      fresh.stop();
    }
  });

  test("an invitation from slixmpp's command menu: another slixmpp presents its token and the two become contacts", async () => {
    const invited = await admin.ok({ op: 'command', node: 'urn:xmpp:invite#invite' });
    assert.equal(invited.status, 'completed');
    const uri = (invited.values as Record<string, string>).uri!;
    assert.match(uri, /^xmpp:root@localhost\?roster;preauth=/);
    await server.addUser('friend', 'localhost', 'friend-pw');
    const friend = await startSlixmpp(server, 'friend@localhost/phone', 'friend-pw');
    try {
      // RFC 6121 sections 2.2 and 4.2: both read their rosters and are available, as clients are.
      for (const client of [admin, friend]) {
        await client.ok({ op: 'get_roster' });
        await client.ok({ op: 'presence' });
      }
      await friend.ok({ op: 'subscribe', to: 'root@localhost', preauth: /preauth=([^;]+)/.exec(uri)![1] });
      // XEP-0379 section 3.5: approved at once, and asked back.
      await friend.waitEvent((event) => event.event === 'presence' && event.type === 'subscribed' && event.from === 'root@localhost');
      await friend.waitEvent((event) => event.event === 'subscription_request' && event.from === 'root@localhost');
      await friend.ok({ op: 'approve', to: 'root@localhost' });
      await admin.waitEvent((event) => event.event === 'roster_push' && JSON.stringify(event.items).includes('"subscription":"both"'));
      const roster = (await friend.ok({ op: 'get_roster', full: true })).roster as Record<string, { subscription: string }>;
      assert.equal(roster['root@localhost']?.subscription, 'both');
    } finally {
      friend.stop();
    }
  });
});
