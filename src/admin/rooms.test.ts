/** GET /v1/rooms, the group-chat counts in GET /v1/status and the `rooms:` line of `trellis status`, over real rooms. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusText } from '../cli/status.ts';
import { startHarness } from '../muc/test-harness.ts';
import { mucServices } from '../services/service-hosts.ts';
import { handleAdminRequest } from './routes.ts';
import type { AdminSources } from './sources.ts';
import type { RoomRow, StatusReport } from './types.ts';

const MUC = "xmlns='http://jabber.org/protocol/muc'";

test('rooms and occupants per group-chat service, in the API and in trellis status', async () => {
  const harness = await startHarness();
  try {
    const sources: AdminSources = {
      startedAt: Date.now(),
      hosts: () => ['localhost', 'example.net'],
      listening: { c2s: [], c2sDirectTls: [], s2s: [], s2sDirectTls: [] },
      federation: () => 'off',
      c2s: { connections: new Set() },
      s2s: { connections: () => [], closeConnection: () => false, pairs: () => [], revokePair: () => 0 },
      mucServices: () => mucServices(harness.router),
    };
    const alice = harness.user('alice@localhost/a');
    const alicePhone = harness.user('alice@localhost/phone');
    const bob = harness.user('bob@localhost/b');
    // alice creates "lobby" and opens it; bob and alice's second resource enter it; bob creates "side" and leaves it locked.
    await alice.send(`<presence to='lobby@conference.localhost/Alice'><x ${MUC}/></presence>`);
    await alice.send(`<iq type='set' id='c' to='lobby@conference.localhost'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    await bob.send(`<presence to='lobby@conference.localhost/Bob'><x ${MUC}/></presence>`);
    await alicePhone.send(`<presence to='lobby@conference.localhost/Alice'><x ${MUC}/></presence>`);
    await bob.send(`<message to='lobby@conference.localhost' type='groupchat'><body>hi</body></message>`);
    await bob.send(`<presence to='side@conference.localhost/Bob'><x ${MUC}/></presence>`);

    const status = JSON.parse(handleAdminRequest('GET', '/v1/status', sources).body) as StatusReport;
    assert.deepEqual(status.muc, [
      { service: 'conference.example.net', host: 'example.net', rooms: 0, occupants: 0 },
      { service: 'conference.localhost', host: 'localhost', rooms: 2, occupants: 3 },
    ]);
    const rooms = JSON.parse(handleAdminRequest('GET', '/v1/rooms', sources).body) as { services: { service: string; rooms: RoomRow[] }[] };
    assert.deepEqual(rooms.services, [
      { service: 'conference.example.net', rooms: [] },
      {
        service: 'conference.localhost',
        rooms: [
          { room: 'lobby@conference.localhost', occupants: 2, sessions: 3, persistent: false, locked: false, history: 1 },
          { room: 'side@conference.localhost', occupants: 1, sessions: 1, persistent: false, locked: true, history: 0 },
        ],
      },
    ]);
    assert.match(statusText(status, '/run/trellis/admin.sock'), /^rooms: +conference\.example\.net 0 rooms, 0 occupants; conference\.localhost 2 rooms, 3 occupants$/m);

    // The last occupant leaving a temporary room ends it.
    await bob.send(`<presence to='side@conference.localhost/Bob' type='unavailable'/>`);
    const after = JSON.parse(handleAdminRequest('GET', '/v1/status', sources).body) as StatusReport;
    assert.deepEqual(after.muc.find((row) => row.service === 'conference.localhost'), { service: 'conference.localhost', host: 'localhost', rooms: 1, occupants: 2 });
  } finally {
    await harness.close();
  }
});
