/**
 * External components (XEP-0114) follow `trellis reload`: added, removed and re-keyed without a
 * restart, with real slixmpp ComponentXMPP components (test/clients/component_driver.py). And
 * the hosted domain's disco#items (XEP-0030) lists its group-chat service and its connected
 * components, as a real slixmpp client sees them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson } from '../src/admin/client.ts';
import type { ComponentRow } from '../src/admin/types.ts';
import { makeStoredCredentials } from '../src/auth/scram.ts';
import { loadConfig } from '../src/config/load.ts';
import { startServer, type TrellisServer } from '../src/server.ts';
import { memoryLogger } from '../src/util/log.ts';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { reloadableConfig } from './support/config-file.ts';
import type { TestServer } from './support/server.ts';
import { startSlixmpp, startSlixmppComponent } from './support/slixmpp.ts';

const PASSWORD = 'correct horse';

function configText(components: Record<string, string>): string {
  const entries = Object.entries(components).map(([domain, secret]) => `  ${domain}: { secret: "${secret}" }`);
  const rest = `component:\n  reconnect_hold: 0\npubsub: { enabled: false }\nupload: { enabled: false }\nhosts:\n  localhost: {}\n${entries.length > 0 ? `components:\n${entries.join('\n')}\n` : ''}`;
  return reloadableConfig(rest, '  component: { addresses: ["127.0.0.1"], port: 0 }\n');
}

const isMessage = (from: string, body: string) => (event: DriverEvent) => event.event === 'message' && event.from === from && event.body === body;

describe('external components on reload, and the parent domain lists them', () => {
  let dir: string;
  let configFile: string;
  let server: TrellisServer;
  const log = memoryLogger();
  let alice: ClientDriver;
  const drivers: ClientDriver[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-component-reload-'));
    configFile = join(dir, 'trellis.yaml');
    await writeFile(configFile, configText({}));
    server = await startServer(await loadConfig(configFile), log.logger);
    await server.storage.accounts.create('localhost', 'alice', makeStoredCredentials(PASSWORD, 4096));
    const target = { port: server.listening.c2s[0]!.port, certificateFile: (domain: string) => join(dir, 'data', 'certs', `${domain}.crt`) } as TestServer;
    alice = await startSlixmpp(target, 'alice@localhost/desk', PASSWORD);
    drivers.push(alice);
  });
  after(async () => {
    for (const driver of drivers) driver.stop();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function component(domain: string, secret: string): Promise<ClientDriver> {
    const driver = await startSlixmppComponent(server.listening.component[0]!.port, domain, secret);
    drivers.push(driver);
    return driver;
  }

  async function reload(components: Record<string, string>) {
    await writeFile(configFile, configText(components));
    const outcome = await server.reload();
    assert.ok(outcome.ok, JSON.stringify(outcome));
    return outcome.components;
  }

  async function discoItems(): Promise<string[]> {
    const result = await alice.ok({ op: 'disco_items', jid: 'localhost' });
    return (result.items as string[][]).map(([jid]) => jid!);
  }

  async function rows(): Promise<string[]> {
    return (await adminJson<{ components: ComponentRow[] }>(server.adminSocket!, 'GET', '/v1/components')).components.map((row) => row.domain);
  }

  test('without components nothing listens for them; the parent lists its group chat only', async () => {
    assert.deepEqual(server.listening.component, []);
    assert.deepEqual(await discoItems(), ['conference.localhost']);
  });

  test('a component added by a reload opens the listener; its domain is listed while it is connected', async () => {
    assert.deepEqual(await reload({ 'echo.localhost': 'first secret' }), { added: ['echo.localhost'], removed: [], secretChanged: [] });
    assert.equal(server.listening.component.length, 1, 'the component listener opened');
    assert.deepEqual(await discoItems(), ['conference.localhost'], 'not listed before it connects');
    const echo = await component('echo.localhost', 'first secret');
    assert.deepEqual(await discoItems(), ['conference.localhost', 'echo.localhost']);
    await alice.ok({ op: 'message', to: 'bot@echo.localhost', body: 'hello' });
    await alice.waitEvent(isMessage('bot@echo.localhost', 'echo: hello'));
    await echo.disconnect();
    const deadline = Date.now() + 5000;
    while ((await discoItems()).includes('echo.localhost') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await discoItems(), ['conference.localhost'], 'no longer listed once it left');
  });

  test('a changed secret applies to the next connection; the connected component stays', async () => {
    const echo = await component('echo.localhost', 'first secret');
    assert.deepEqual(await reload({ 'echo.localhost': 'second secret' }), { added: [], removed: [], secretChanged: ['echo.localhost'] });
    await alice.ok({ op: 'message', to: 'bot@echo.localhost', body: 'still there?' });
    await alice.waitEvent(isMessage('bot@echo.localhost', 'echo: still there?'));
    await echo.disconnect();
    const refused = await component('echo.localhost', 'first secret').then(
      () => assert.fail('the old secret was accepted'),
      (failure: Error) => failure.message,
    );
    assert.match(refused, /not-authorized/);
    await component('echo.localhost', 'second secret');
    await alice.ok({ op: 'message', to: 'bot@echo.localhost', body: 'new key' });
    await alice.waitEvent(isMessage('bot@echo.localhost', 'echo: new key'));
  });

  test('a removed component is closed with host-gone and no longer listed or routed to', async () => {
    assert.deepEqual(await reload({ 'echo.localhost': 'second secret', 'other.localhost': 'other secret' }), { added: ['other.localhost'], removed: [], secretChanged: [] });
    const other = await component('other.localhost', 'other secret');
    assert.deepEqual(await discoItems(), ['conference.localhost', 'echo.localhost', 'other.localhost']);
    assert.deepEqual((await rows()).sort(), ['echo.localhost', 'other.localhost']);

    assert.deepEqual(await reload({ 'echo.localhost': 'second secret' }), { added: [], removed: ['other.localhost'], secretChanged: [] });
    const error = await other.waitEvent((event) => event.event === 'stream_error');
    assert.equal(error.condition, 'host-gone');
    assert.deepEqual(await discoItems(), ['conference.localhost', 'echo.localhost']);
    assert.deepEqual(await rows(), ['echo.localhost']);
    assert.equal(server.router.hosts.has('other.localhost'), false);
    const again = await component('other.localhost', 'other secret').then(
      () => assert.fail('a removed component was accepted'),
      (failure: Error) => failure.message,
    );
    assert.match(again, /host-unknown/);
  });

  test('a component configured at the group-chat domain takes it over, and group chat comes back when it goes', async () => {
    await reload({ 'echo.localhost': 'second secret', 'conference.localhost': 'rooms secret' });
    assert.equal(server.router.hosts.get('conference.localhost')?.service?.kind, 'component');
    assert.deepEqual(await discoItems(), ['echo.localhost'], 'the component at conference.localhost is not connected');
    assert.ok(log.lines.some((line) => /a service is served by an external component instead of the built-in one/.test(line) && /components\.conference\.localhost/.test(line)), 'the operator is told');
    await reload({ 'echo.localhost': 'second secret' });
    assert.equal(server.router.hosts.get('conference.localhost')?.service?.kind, 'muc');
    assert.deepEqual(await discoItems(), ['conference.localhost', 'echo.localhost']);
  });
});
