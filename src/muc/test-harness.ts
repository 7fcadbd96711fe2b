/**
 * An in-process server for the group-chat tests: a real Router with the hosts' feature modules
 * and their service hosts over in-memory SQLite, clients as fake sessions that keep what they
 * receive, and a remote route that keeps what leaves for other servers.
 */
import { parseConfig } from '../config/load.ts';
import type { TrellisConfig } from '../config/types.ts';
import { parseJid } from '../jid/jid.ts';
import { Router, type RemoteRoute } from '../router/router.ts';
import { LivePolicy, PolicySnapshot } from '../policy/snapshot.ts';
import { newImState, SessionRegistry, type BoundSession } from '../router/sessions.ts';
import { buildHost } from '../server-hosts.ts';
import { syncServiceHosts } from '../services/service-hosts.ts';
import { openSqliteStorage } from '../storage/sqlite.ts';
import type { Storage } from '../storage/types.ts';
import { TlsContextStore } from '../net/tls-contexts.ts';
import { silentLogger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { mucServiceOf } from './module.ts';
import type { MucService } from './service.ts';

export interface TestUser {
  jid: string;
  received: Element[];
  /** Routes a stanza written as XML from this user's session. */
  send(xml: string): Promise<void>;
  /** Everything received so far, then forgets it. */
  take(): Element[];
}

export interface Harness {
  router: Router;
  storage: Storage;
  config: TrellisConfig;
  /** stanzas that left for other servers */
  remote: Element[];
  user(jid: string): TestUser;
  /** Routes a stanza as if it came from another server. */
  fromServer(xml: string): Promise<void>;
  /** the MUC service of a service domain */
  service(domain: string): MucService;
  /** Waits until every service has routed what it sent. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(yaml = 'hosts:\n  localhost: {}\n  example.net: {}\n', storage?: Storage): Promise<Harness> {
  const config = parseConfig(`data_dir: /nonexistent\n${yaml}`, { baseDir: '/' });
  const store = storage ?? (await openSqliteStorage(':memory:'));
  const logger = silentLogger();
  const router = new Router(new SessionRegistry(), logger, new LivePolicy(new PolicySnapshot(config)));
  const remote: Element[] = [];
  const route: RemoteRoute = { send: (stanza) => void remote.push(stanza) };
  router.remote = route;
  for (const hostConfig of config.hosts) router.addHost(buildHost(hostConfig, { router, storage: store, config, logger }));
  const tls = new TlsContextStore(config.tls_settings);
  for (const hostConfig of config.hosts) await syncServiceHosts(hostConfig.domain, hostConfig, { router, storage: store, config, tls, logger, loadCertificate: async () => {} });
  const serviceOf = (domain: string): MucService => {
    const service = mucServiceOf(router.hosts.get(domain));
    if (!service) throw new Error(`no group-chat service at ${domain}`);
    return service;
  };
  const allServices = () => [...router.hosts.values()].map((host) => mucServiceOf(host)).filter((service) => service !== undefined);
  const settle = async () => {
    for (let round = 0; round < 5; round++) for (const service of allServices()) await service.settled();
  };
  return {
    router,
    storage: store,
    config,
    remote,
    user(jid) {
      const received: Element[] = [];
      const session: BoundSession = { jid: parseJid(jid), peer: 'test', im: newImState(), offlineBacklog: false, send: (stanza) => void received.push(stanza), sendTracked: async () => true, terminate() {} };
      router.sessions.add(session);
      return {
        jid,
        received,
        async send(xml) {
          await router.route(stanzaOf(xml), { kind: 'client', session });
          await settle();
        },
        take: () => received.splice(0),
      };
    },
    async fromServer(xml) {
      const stanza = stanzaOf(xml);
      await router.route(stanza, { kind: 'server', binding: { local: parseJid(stanza.attrs.to!).domain, remote: parseJid(stanza.attrs.from!).domain, connection: 'test' } });
      await settle();
    },
    service: serviceOf,
    settle,
    async close() {
      await settle();
      await store.close();
    },
  };
}

/** Sends an IQ from `user` and returns the reply it got. */
export async function iq(user: TestUser, type: 'get' | 'set', to: string, payload: string): Promise<Element> {
  const id = `iq${Math.random().toString(36).slice(2)}`;
  await user.send(`<iq type='${type}' id='${id}' to='${to}'>${payload}</iq>`);
  const reply = user.received.find((stanza) => stanza.name === 'iq' && stanza.attrs.id === id);
  if (!reply) throw new Error(`no reply to ${payload}`);
  return reply;
}

/** A stanza written in a test, in the content namespace stanzas have inside the server. */
function stanzaOf(xml: string): Element {
  return parseElement(xml.replace(/^<(\w+)/, "<$1 xmlns='jabber:client'"));
}
