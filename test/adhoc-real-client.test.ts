/**
 * Service administration (XEP-0133) from a real client: slixmpp (Debian's python3-slixmpp)
 * lists the server's commands and runs them through its ad-hoc commands workflow (XEP-0050),
 * each form filled in and completed as a client's command dialog does; a second slixmpp
 * client is the account they act on.
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
    assert.equal(commands.length, 11);
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
});
