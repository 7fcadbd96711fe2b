import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.ts';
import type { TrellisConfig } from '../config/types.ts';
import { LivePolicy, PolicySnapshot } from '../policy/snapshot.ts';
import { TlsContextStore } from '../net/tls-contexts.ts';
import { Router } from '../router/router.ts';
import { SessionRegistry } from '../router/sessions.ts';
import { buildHost } from '../server-hosts.ts';
import { openSqliteStorage } from '../storage/sqlite.ts';
import { silentLogger } from '../util/log.ts';
import { serviceSpecs, syncServiceHosts } from './service-hosts.ts';

const config = (yaml: string): TrellisConfig => parseConfig(`data_dir: /nonexistent\nhttp: { enabled: false }\n${yaml}`, { baseDir: '/' });

test('each host gets group chat at conference.<host> unless turned off, renamed, or the domain is itself hosted', () => {
  const parsed = config('pubsub: { enabled: false }\nhosts:\n  a.example: {}\n  b.example: { muc: { enabled: false } }\n  c.example: { muc: { subdomain: rooms } }\n  d.example: {}\n  conference.d.example: { muc: { enabled: false } }\n');
  assert.deepEqual(
    parsed.hosts.flatMap((host) => serviceSpecs(host, parsed)),
    [
      { kind: 'muc', parent: 'a.example', domain: 'conference.a.example' },
      { kind: 'muc', parent: 'c.example', domain: 'rooms.c.example' },
    ],
  );
});

test('service hosts follow their parent: started, kept with their rooms when their settings stay, restarted when they change, stopped with it', async () => {
  const storage = await openSqliteStorage(':memory:');
  const logger = silentLogger();
  const router = new Router(new SessionRegistry(), logger, new LivePolicy(new PolicySnapshot(config('hosts:\n  a.example: {}\n'))));
  const withoutPubsub = (yaml: string) => config(`pubsub: { enabled: false }\n${yaml}`);
  const certificates: string[] = [];
  const sync = (parsed: TrellisConfig, domain: string, present: boolean) => {
    const hostConfig = parsed.hosts.find((host) => host.domain === domain);
    if (present && hostConfig) router.addHost(buildHost(hostConfig, { router, storage, config: parsed, logger }));
    return syncServiceHosts(domain, present ? hostConfig : undefined, {
      router,
      storage,
      config: parsed,
      tls: new TlsContextStore(parsed.tls_settings),
      logger,
      loadCertificate: async (_store, host) => void certificates.push(host.domain),
    });
  };
  const first = withoutPubsub('hosts:\n  a.example: {}\n');
  assert.deepEqual(await sync(first, 'a.example', true), { started: ['conference.a.example'], stopped: [] });
  assert.deepEqual(certificates, ['conference.a.example']);
  const service = router.hosts.get('conference.a.example')!;
  assert.deepEqual(service.service, { kind: 'muc', parent: 'a.example' });
  assert.deepEqual(router.servicesOf('a.example'), ['conference.a.example']);

  const sameMuc = withoutPubsub('hosts:\n  a.example: { roster: { max_items: 5 } }\n');
  assert.deepEqual(await sync(sameMuc, 'a.example', true), { started: [], stopped: [] });
  assert.equal(router.hosts.get('conference.a.example'), service, 'the same service, its rooms kept');
  assert.equal(service.config.roster.max_items, 5, 'with the new settings of its parent');
  assert.deepEqual(router.servicesOf('a.example'), ['conference.a.example'], 'listed by the rebuilt parent');

  const renamed = withoutPubsub('hosts:\n  a.example: { muc: { subdomain: chat } }\n');
  assert.deepEqual(await sync(renamed, 'a.example', true), { started: ['chat.a.example'], stopped: ['conference.a.example'] });
  assert.equal(router.hosts.has('conference.a.example'), false);

  assert.deepEqual(await sync(renamed, 'a.example', false), { started: [], stopped: ['chat.a.example'] });
  assert.equal([...router.hosts.keys()].some((domain) => domain.endsWith('.a.example')), false);
  await storage.close();
});

test('each host gets publish-subscribe at pubsub.<host> beside group chat unless turned off or renamed; one subdomain serves one service', () => {
  const parsed = config('hosts:\n  a.example: {}\n  b.example: { pubsub: { enabled: false } }\n  c.example: { pubsub: { subdomain: feeds } }\n  d.example: { pubsub: { subdomain: conference } }\n');
  assert.deepEqual(
    parsed.hosts.flatMap((host) => serviceSpecs(host, parsed)),
    [
      { kind: 'muc', parent: 'a.example', domain: 'conference.a.example' },
      { kind: 'pubsub', parent: 'a.example', domain: 'pubsub.a.example' },
      { kind: 'muc', parent: 'b.example', domain: 'conference.b.example' },
      { kind: 'muc', parent: 'c.example', domain: 'conference.c.example' },
      { kind: 'pubsub', parent: 'c.example', domain: 'feeds.c.example' },
      { kind: 'muc', parent: 'd.example', domain: 'conference.d.example' },
    ],
  );
});

test('a publish-subscribe service host is started, kept while its settings stay, restarted when they change', async () => {
  const storage = await openSqliteStorage(':memory:');
  const logger = silentLogger();
  const router = new Router(new SessionRegistry(), logger, new LivePolicy(new PolicySnapshot(config('hosts:\n  a.example: {}\n'))));
  const sync = (parsed: TrellisConfig) =>
    syncServiceHosts('a.example', parsed.hosts[0], { router, storage, config: parsed, tls: new TlsContextStore(parsed.tls_settings), logger, loadCertificate: async () => {} });
  assert.deepEqual(await sync(config('muc: { enabled: false }\nhosts:\n  a.example: {}\n')), { started: ['pubsub.a.example'], stopped: [] });
  const service = router.hosts.get('pubsub.a.example')!;
  assert.deepEqual(service.service, { kind: 'pubsub', parent: 'a.example' });
  assert.deepEqual(service.discoIdentities, [{ category: 'pubsub', type: 'service', name: 'Publish-Subscribe' }]);
  assert.deepEqual(await sync(config('muc: { enabled: false }\nhosts:\n  a.example: { roster: { max_items: 5 } }\n')), { started: [], stopped: [] });
  assert.equal(router.hosts.get('pubsub.a.example'), service);
  assert.deepEqual(await sync(config('muc: { enabled: false }\nhosts:\n  a.example: { pubsub: { name: News } }\n')), { started: ['pubsub.a.example'], stopped: ['pubsub.a.example'] });
  assert.equal(router.hosts.get('pubsub.a.example')!.discoIdentities[0]!.name, 'News');
  await storage.close();
});
