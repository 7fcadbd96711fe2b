/**
 * Service administration (XEP-0133) over ad-hoc commands (XEP-0050), at the byte level: who sees
 * and runs the commands, each command's stages and effect on accounts and sessions, and the
 * command sessions' rules (cancel, another requester, bounds).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { iqReply, type RawClient } from './support/raw-client.ts';
import { login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const NS = 'http://jabber.org/protocol/commands';
const ADMIN = 'http://jabber.org/protocol/admin';

/** A pattern written with single quotes that matches attributes in either quote style. */
function q(pattern: string): RegExp {
  return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replace(/'/g, `["']`));
}

function attribute(xml: string, name: string): string | undefined {
  return new RegExp(`${name}=["']([^"']*)["']`).exec(xml)?.[1];
}

/** The submitted form's fields, each var with its values. */
function submitForm(fields: Record<string, string | string[]>): string {
  const body = Object.entries(fields)
    .map(([name, values]) => `<field var='${name}'>${(Array.isArray(values) ? values : [values]).map((value) => `<value>${value}</value>`).join('')}</field>`)
    .join('');
  return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${ADMIN}</value></field>${body}</x>`;
}

describe('service administration commands (XEP-0133)', () => {
  let server: TestServer;
  let boss: RawClient;
  before(async () => {
    server = await startTestServer('admins: [boss@localhost]\n');
    for (const user of ['boss', 'someone', 'victim', 'leaver', 'listener']) await server.addUser(user, 'localhost', 'secret');
    boss = (await login(server, { username: 'boss', password: 'secret', resource: 'desk' })).client;
  });
  after(async () => {
    boss.close();
    await server.stop();
  });

  /** Starts `command` as `client`; returns the reply. */
  const execute = (client: RawClient, command: string) => iqReply(client, `<iq type='set' id='ID' to='localhost'><command xmlns='${NS}' node='${ADMIN}#${command}' action='execute'/></iq>`);
  /** Submits the form of the session `reply` opened. */
  const submit = (client: RawClient, reply: string, command: string, fields: Record<string, string | string[]>) =>
    iqReply(client, `<iq type='set' id='ID' to='localhost'><command xmlns='${NS}' node='${ADMIN}#${command}' sessionid='${attribute(reply, 'sessionid')}'>${submitForm(fields)}</command></iq>`);
  /**
   * Asks for the number of online users until it is `count`: the sessions of clients that earlier
   * tests closed end once the server has read the close. Returns the last answer.
   */
  const onlineCount = async (count: number): Promise<string> => {
    let answer = '';
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
      answer = await execute(boss, 'get-online-users-num');
      if (answer.includes(`<value>${count}</value>`)) break;
    }
    return answer;
  };
  /** Runs a two-stage command through; returns the last reply. */
  const run = async (command: string, fields: Record<string, string | string[]>, client = boss) => submit(client, await execute(client, command), command, fields);

  test('the server lists the administration commands to its administrators only, and refuses them to anyone else', async () => {
    assert.match(await iqReply(boss, "<iq type='get' id='ID' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"), q(`<feature var='${NS}'/>`));
    const items = await iqReply(boss, `<iq type='get' id='ID' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='${NS}'/></iq>`);
    const nodes = [...items.matchAll(/node=["']([^"']+)["']/g)].map((match) => match[1]).slice(1);
    assert.deepEqual(nodes.map((node) => node!.replace(`${ADMIN}#`, '')), ['urn:xmpp:invite#invite', 'add-user', 'delete-user', 'end-user-session', 'change-user-password', 'user-stats', 'urn:xmpp:invite#create-account', 'get-registered-users-num', 'get-online-users-num', 'get-registered-users-list', 'get-online-users-list', 'announce']);
    assert.match(items, q("name='Add User'"));
    const info = await iqReply(boss, `<iq type='get' id='ID' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='${ADMIN}#add-user'/></iq>`);
    assert.match(info, q("<identity category='automation' type='command-node' name='Add User'/>"));

    const { client: someone } = await login(server, { username: 'someone', password: 'secret', resource: 'r' });
    const own = await iqReply(someone, `<iq type='get' id='ID' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='${NS}'/></iq>`);
    // Every account has the invitation command (docs/invitations.md); the administration commands are not listed.
    assert.deepEqual([...own.matchAll(/node=["']([^"']+)["']/g)].map((match) => match[1]).slice(1), ['urn:xmpp:invite#invite']);
    assert.match(await iqReply(someone, `<iq type='get' id='ID' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='${ADMIN}#add-user'/></iq>`), /<forbidden/);
    const refused = await execute(someone, 'add-user');
    assert.match(refused, q("type='error'"));
    assert.match(refused, /<forbidden/);
    someone.close();
  });

  test('add-user: a form, then the account, which logs in; passwords that differ and another host are errors, an existing account a conflict', async () => {
    const first = await execute(boss, 'add-user');
    assert.match(first, q("status='executing'"));
    assert.match(first, q("<actions execute='complete'><complete/></actions>"));
    for (const field of ['accountjid', 'password', 'password-verify']) assert.match(first, q(`var='${field}'`));
    assert.match(first, q(`<value>${ADMIN}</value>`));

    const added = await submit(boss, first, 'add-user', { accountjid: 'newbie@localhost', password: 'n3w', 'password-verify': 'n3w' });
    assert.match(added, q("status='completed'"));
    assert.match(added, q("<note type='info'>newbie@localhost was added</note>"));
    const { client: newbie } = await login(server, { username: 'newbie', password: 'n3w', resource: 'r' });
    newbie.close();

    assert.match(await run('add-user', { accountjid: 'other@localhost', password: 'a', 'password-verify': 'b' }), q("<note type='error'>the two passwords differ</note>"));
    assert.match(await run('add-user', { accountjid: 'x@elsewhere.example', password: 'a', 'password-verify': 'a' }), q("<note type='error'>x@elsewhere.example is not an account of localhost</note>"));
    assert.equal(await server.server.storage.accounts.get('localhost', 'other'), undefined);
    const conflict = await run('add-user', { accountjid: 'newbie@localhost', password: 'x', 'password-verify': 'x' });
    assert.match(conflict, /<conflict/);
  });

  test('change-user-password: the new password logs in, the old one no longer does', async () => {
    await server.addUser('changer', 'localhost', 'old');
    assert.match(await run('change-user-password', { accountjid: 'changer@localhost', password: 'new' }), q("<note type='info'>the password of changer@localhost was changed</note>"));
    const { client } = await login(server, { username: 'changer', password: 'new', resource: 'r' });
    client.close();
    await assert.rejects(login(server, { username: 'changer', password: 'old', resource: 'r' }));
    assert.match(await run('change-user-password', { accountjid: 'nobody@localhost', password: 'new' }), q("<note type='error'>no such account: nobody@localhost</note>"));
  });

  test('counts and lists of registered and online users', async () => {
    const { client: listener } = await login(server, { username: 'listener', password: 'secret', resource: 'r' });
    const registered = (await server.server.storage.accounts.list('localhost')).length;
    assert.match(await execute(boss, 'get-registered-users-num'), q(`<field var='registeredusersnum' type='text-single' label='The number of registered users'><value>${registered}</value>`));
    const online = await onlineCount(2);
    assert.match(online, q("status='completed'"));
    assert.match(online, q("<field var='onlineusersnum' type='text-single' label='The number of online users'><value>2</value>"));

    const list = await run('get-online-users-list', { max_items: 'none' });
    assert.match(list, q("<value>boss@localhost</value><value>listener@localhost</value></field>"));
    const firstTwo = await run('get-registered-users-list', { max_items: '25' });
    assert.match(firstTwo, q("<field var='registereduserjids' type='jid-multi'"));
    assert.equal([...firstTwo.matchAll(/<value>[^<]*@localhost<\/value>/g)].length, Math.min(25, registered));
    const stats = await run('user-stats', { accountjid: 'listener@localhost' });
    assert.match(stats, q("<field var='rostersize' type='text-single' label='Roster size'><value>0</value></field>"));
    assert.match(stats, q("<field var='onlineresources' type='text-multi' label='Online resources'><value>r</value></field>"));
    assert.match(stats, /<field var=["']ipaddresses["'][^>]*><value>127\.0\.0\.1:\d+<\/value><\/field>/);
    assert.match(await run('user-stats', { accountjid: 'nobody@localhost' }), q("<note type='error'>no such account: nobody@localhost</note>"));
    listener.close();
  });

  test('announce: a headline from the server to every online session', async () => {
    const { client: listener } = await login(server, { username: 'listener', password: 'secret', resource: 'ears' });
    await onlineCount(2);
    listener.clear();
    const answer = await run('announce', { announcement: ['Maintenance at 22:00 UTC.', 'Back by 22:15.'] });
    assert.match(answer, q("<note type='info'>sent to 2 sessions</note>"));
    const received = await listener.waitFor('Back by 22:15.');
    assert.match(received, q("<message from='localhost' to='listener@localhost/ears' type='headline'><body>Maintenance at 22:00 UTC.\nBack by 22:15.</body></message>"));
    assert.match(await run('announce', { announcement: [''] }), q("<note type='error'>the announcement is empty</note>"));
    listener.close();
  });

  test('end-user-session ends every session of an account with policy-violation; delete-user ends them with not-authorized and the account is gone', async () => {
    const { client: leaver } = await login(server, { username: 'leaver', password: 'secret', resource: 'one' });
    assert.match(await run('end-user-session', { accountjids: 'leaver@localhost' }), q("<note type='info'>ended: leaver@localhost/one</note>"));
    assert.match(await leaver.waitFor('</stream:stream>'), /<policy-violation/);
    leaver.close();
    assert.match(await run('end-user-session', { accountjids: 'leaver@localhost/gone' }), q("<note type='error'>no such session</note>"));

    const { client: victim } = await login(server, { username: 'victim', password: 'secret', resource: 'r' });
    assert.match(await run('delete-user', { accountjids: ['victim@localhost', 'ghost@localhost'] }), q("<note type='error'>no such account: ghost@localhost; deleted: victim@localhost</note>"));
    assert.match(await victim.waitFor('</stream:stream>'), /<not-authorized/);
    victim.close();
    assert.equal(await server.server.storage.accounts.get('localhost', 'victim'), undefined);
  });

  test('a session is its requester\'s: canceled, it cannot go on; nobody else may continue it; an unknown node or action is an error', async () => {
    const started = await execute(boss, 'add-user');
    const sessionid = attribute(started, 'sessionid');
    const canceled = await iqReply(boss, `<iq type='set' id='ID' to='localhost'><command xmlns='${NS}' node='${ADMIN}#add-user' sessionid='${sessionid}' action='cancel'/></iq>`);
    assert.match(canceled, q("status='canceled'"));
    const after = await submit(boss, started, 'add-user', { accountjid: 'late@localhost', password: 'a', 'password-verify': 'a' });
    assert.match(after, /<bad-request/);
    assert.match(after, q(`<bad-sessionid xmlns='${NS}'/>`));

    const open = await execute(boss, 'add-user');
    const { client: phone } = await login(server, { username: 'boss', password: 'secret', resource: 'phone' });
    assert.match(await submit(phone, open, 'add-user', { accountjid: 'sneak@localhost', password: 'a', 'password-verify': 'a' }), /<bad-sessionid/);
    phone.close();

    assert.match(await iqReply(boss, `<iq type='set' id='ID' to='localhost'><command xmlns='${NS}' node='${ADMIN}#shutdown' action='execute'/></iq>`), /<item-not-found/);
    assert.match(await iqReply(boss, `<iq type='set' id='ID' to='localhost'><command xmlns='${NS}' node='${ADMIN}#add-user' action='explode'/></iq>`), /<malformed-action/);
  });

  test('one requester may keep 8 command sessions open; one more is refused until one ends', async () => {
    const { client } = await login(server, { username: 'boss', password: 'secret', resource: 'many' });
    const opened: string[] = [];
    for (let i = 0; i < 8; i++) opened.push(await execute(client, 'announce'));
    const ninth = await execute(client, 'announce');
    assert.match(ninth, /<resource-constraint/);
    assert.match(ninth, /you have 8 commands open/);
    await iqReply(client, `<iq type='set' id='ID' to='localhost'><command xmlns='${NS}' node='${ADMIN}#announce' sessionid='${attribute(opened[0]!, 'sessionid')}' action='cancel'/></iq>`);
    assert.match(await execute(client, 'announce'), q("status='executing'"));
    client.close();
  });
});
