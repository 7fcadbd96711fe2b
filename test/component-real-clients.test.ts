/**
 * External components (XEP-0114) with a real one: slixmpp's ComponentXMPP
 * (test/clients/component_driver.py) serves echo.localhost, and a slixmpp client of localhost
 * talks to it. Wrong secrets, unknown domains, a second connection, a forged `from` and a
 * component that reconnects get what docs/gateways.md says.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminJson } from '../src/admin/client.ts';
import type { ComponentRow, StatusReport } from '../src/admin/types.ts';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSlixmpp, startSlixmppComponent } from './support/slixmpp.ts';

const PASSWORD = 'correct horse';
const SECRET = 'component secret';
const HOLD_SECONDS = 2;

const isMessage = (from: string, body: string) => (event: DriverEvent) => event.event === 'message' && event.from === from && event.body === body;

describe('external components with slixmpp ComponentXMPP', () => {
  let server: TestServer;
  const drivers: ClientDriver[] = [];
  let alice: ClientDriver;

  before(async () => {
    server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["127.0.0.1"], port: 0 }
  component: { addresses: ["127.0.0.1"], port: 0 }
component:
  reconnect_hold: ${HOLD_SECONDS}
components:
  echo.localhost: { secret: "${SECRET}" }
  quiet.localhost: { secret: "other" }
`);
    await server.addUser('alice', 'localhost', PASSWORD);
    alice = await startSlixmpp(server, 'alice@localhost/desk', PASSWORD);
    drivers.push(alice);
  });
  after(async () => {
    for (const driver of drivers) driver.stop();
    await server.stop();
  });

  const componentPort = () => server.server.listening.component[0]!.port;

  async function component(domain = 'echo.localhost', secret = SECRET): Promise<ClientDriver> {
    const driver = await startSlixmppComponent(componentPort(), domain, secret);
    drivers.push(driver);
    return driver;
  }

  async function refusal(domain: string, secret: string): Promise<string> {
    const error = await component(domain, secret).then(
      () => assert.fail('the component was accepted'),
      (failure: Error) => failure.message,
    );
    return error;
  }

  async function rows(): Promise<ComponentRow[]> {
    return (await adminJson<{ components: ComponentRow[] }>(server.server.adminSocket!, 'GET', '/v1/components')).components;
  }

  test('the component receives and answers stanzas for its domain, and is listed as connected', async () => {
    const echo = await component();
    await alice.ok({ op: 'message', to: 'bot@echo.localhost', body: 'hello component' });
    await echo.waitEvent((event) => event.event === 'message' && event.from === 'alice@localhost/desk' && event.to === 'bot@echo.localhost');
    await alice.waitEvent(isMessage('bot@echo.localhost', 'echo: hello component'));
    const info = await alice.ok({ op: 'disco_info', jid: 'echo.localhost' });
    assert.deepEqual(info.identities, [['gateway', 'test', 'Test component']]);
    const version = await alice.ok({ op: 'version', jid: 'echo.localhost' });
    assert.equal(version.name, 'trellis-test-component');

    const status = await adminJson<StatusReport>(server.server.adminSocket!, 'GET', '/v1/status');
    assert.equal(status.listeners.component.length, 1);
    const byDomain = new Map(status.components.map((row) => [row.domain, row]));
    assert.equal(byDomain.get('echo.localhost')?.connected, true);
    assert.equal(byDomain.get('quiet.localhost')?.connected, false);
    const row = (await rows()).find((candidate) => candidate.domain === 'echo.localhost')!;
    assert.ok(row.stanzasIn >= 3 && row.stanzasOut >= 3, JSON.stringify(row));

    // A second connection for a connected domain is refused (as Prosody's mod_component does).
    assert.match(await refusal('echo.localhost', SECRET), /conflict/);
    await alice.ok({ op: 'message', to: 'bot@echo.localhost', body: 'still there' });
    await alice.waitEvent(isMessage('bot@echo.localhost', 'echo: still there'));
    await echo.disconnect();
  });

  test('a wrong secret is refused with not-authorized, an unknown domain with host-unknown', async () => {
    assert.match(await refusal('echo.localhost', 'wrong'), /not-authorized/);
    assert.match(await refusal('nobody.localhost', SECRET), /host-unknown/);
    await server.waitForLog('component refused: wrong handshake');
    await server.waitForLog('component refused: unknown domain', 'nobody.localhost');
  });

  test('a component not connected bounces messages with service-unavailable and drops presence', async () => {
    await alice.ok({ op: 'message', to: 'someone@quiet.localhost', body: 'anyone?' });
    const bounce = await alice.waitEvent((event) => event.event === 'message_error' && event.from === 'someone@quiet.localhost');
    assert.equal(bounce.condition, 'service-unavailable');
    await alice.ok({ op: 'presence', to: 'someone@quiet.localhost', type: 'unavailable' });
    await alice.expectNoEvent((event) => event.event === 'presence' && String(event.from).startsWith('someone@quiet.localhost'), 300);
    assert.equal((await rows()).find((row) => row.domain === 'quiet.localhost')?.bounced, 1);
  });

  test('a forged from closes the component stream with invalid-from and reaches nobody', async () => {
    const echo = await component();
    await echo.ok({ op: 'message', from: 'admin@localhost', to: 'alice@localhost/desk', body: 'forged' });
    const error = await echo.waitEvent((event) => event.event === 'stream_error');
    assert.equal(error.condition, 'invalid-from');
    await echo.waitEvent((event) => event.event === 'disconnected');
    await server.waitForLog('component forged from rejected', 'admin@localhost');
    await alice.expectNoEvent((event) => event.event === 'message' && event.body === 'forged', 300);
  });

  test('stanzas sent while the component reconnects are held and delivered; later ones bounce', async () => {
    const first = await component();
    await first.disconnect();
    await alice.ok({ op: 'message', to: 'bot@echo.localhost', body: 'while away' });
    const second = await component();
    await second.waitEvent(isMessage('alice@localhost/desk', 'while away'));
    await alice.waitEvent(isMessage('bot@echo.localhost', 'echo: while away'));
    assert.ok((await rows()).find((row) => row.domain === 'echo.localhost')!.connects >= 4);

    await second.disconnect();
    await alice.ok({ op: 'message', to: 'bot@echo.localhost', body: 'too late' });
    const bounce = await alice.waitEvent((event) => event.event === 'message_error' && event.body === 'too late', (HOLD_SECONDS + 3) * 1000);
    assert.equal(bounce.condition, 'service-unavailable');
  });
});
