import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROW } from '../admin/s2s-fixtures.ts';
import type { AdminSources } from '../admin/sources.ts';
import type { LinkConfig, S2sPeeringRule } from '../config/types.ts';
import { TrafficCounters } from '../router/traffic-counters.ts';
import type { S2sConnectionInfo } from '../s2s/context.ts';
import { federationMap } from './federation-map.ts';

/** the admin API tests' connection, carrying a second domain proven by certificate */
const CONNECTION: S2sConnectionInfo = {
  ...ROW,
  id: 'c1',
  domains: ['local.example -> remote.example', 'local.example -> other.example'],
  serverNames: ['remote.example', 'other.example'],
  pairs: [ROW.pairs[0]!, { local: 'local.example', remote: 'other.example', direction: 'out', method: 'certificate', level: 'trusted' }],
};

function sources(): AdminSources {
  const traffic = new TrafficCounters();
  traffic.errorReplies.add('remote-server-not-found');
  traffic.s2sAttempts.add('failed', 'dns');
  traffic.s2sAttempts.add('connected', '');
  return {
    startedAt: 0,
    hosts: () => ['local.example'],
    listening: { c2s: [], c2sDirectTls: [], s2s: [], s2sDirectTls: [] },
    federation: () => 'encrypted',
    c2s: { connections: new Set() },
    s2s: { connections: () => [CONNECTION], closeConnection: () => false, pairs: () => [{ local: 'local.example', remote: 'gone.example', outbound: [], inbound: [] }], revokePair: () => 0 },
    links: {
      rows: () => [{ name: 'hq', up: true, protocol: 'xep0361', connect: 'out', address: '192.0.2.7:5270', queued: 2, stanzasIn: 0, stanzasOut: 0, bytesIn: 0, bytesOut: 0, lastError: null }],
      metrics: () => [],
    },
    traffic,
    audit: {
      store: { query: async () => [] },
      metrics: () => [],
      alerts: () => [{ sequence: 1, time: 0, rule: 's2s.peering["bad.example"].block', verdict: 'refuse', direction: 'in', from: 'eve@bad.example/x', to: 'alice@local.example', kind: 'message', text: 'blocked' }],
    },
  };
}

const RULES = [
  { domain: 'partner.example', subdomains: false, via: { kind: 'address', host: '192.0.2.7', port: 5269 } },
  { domain: 'corp.example', subdomains: true, link: 'hq' },
  { domain: 'edge.partner.example', subdomains: false, via: { kind: 'address', host: '198.51.100.9', port: 5269 }, speaks_for: ['partner.example', '*.partner.example'] },
  { domain: 'closed.example', subdomains: false, route: 'reject' },
  { domain: 'plain.example', subdomains: false, level: 'trusted' },
  { domain: 'inside.example', subdomains: false, via: { kind: 'address', host: '10.0.0.2', port: 5269 }, front: true },
] as unknown as S2sPeeringRule[];
const LINKS = [{ name: 'hq', address: '198.51.100.1:5270', transport: 'tls', connect: 'out', remote_domains: ['corp.example'] }] as unknown as LinkConfig[];

test('connections join this server to remote hosts, which carry the domains of their pairs', () => {
  const map = federationMap(sources(), { peering: [], links: [] });
  const ids = map.nodes.map((node) => `${node.kind} ${node.id} ${node.label}`).sort();
  assert.deepEqual(ids, ['domain domain:bad.example bad.example', 'domain domain:gone.example gone.example', 'domain domain:other.example other.example', 'domain domain:remote.example remote.example', 'host host:192.0.2.7 xmpp.remote.example', 'server server local.example']);
  const connection = map.edges.find((edge) => edge.kind === 'connection');
  assert.deepEqual([connection?.source, connection?.target, connection?.connection?.level, connection?.connection?.authentication], ['server', 'host:192.0.2.7', 'trusted', 'sasl-external']);
  assert.deepEqual(map.edges.filter((edge) => edge.kind === 'carries').map((edge) => edge.target).sort(), ['domain:other.example', 'domain:remote.example']);
});

test('refusals count on their remote domain; bounces and failed connections are listed by cause', () => {
  const map = federationMap(sources(), { peering: [], links: [] });
  assert.equal(map.nodes.find((node) => node.id === 'domain:bad.example')?.refusals, 1);
  assert.deepEqual(map.alerts.map((alert) => [alert.domain, alert.time]), [['bad.example', '1970-01-01T00:00:00.000Z']]);
  assert.ok(map.edges.some((edge) => edge.target === 'domain:bad.example' && edge.label === 'refused by policy'));
  assert.deepEqual(map.bounces, [{ condition: 'remote-server-not-found', count: 1 }]);
  assert.deepEqual(map.failedConnections, [{ reason: 'dns', count: 1 }]);
});

test('routes and links of the configuration: a next hop address is the host a connection reaches', () => {
  const map = federationMap(sources(), { peering: RULES, links: LINKS });
  const routes = map.edges.filter((edge) => edge.kind === 'route' && edge.id.startsWith('route ')).map((edge) => [edge.source, edge.target, edge.label]);
  assert.deepEqual(routes, [
    ['domain:partner.example', 'host:192.0.2.7', 'via 192.0.2.7:5269'],
    ['route:corp.example', 'link:hq', 'over link hq'],
    ['domain:edge.partner.example', 'host:198.51.100.9', 'via 198.51.100.9:5269; trunk speaking for partner.example, *.partner.example'],
    ['domain:closed.example', 'rejected', 'route: reject'],
    ['domain:inside.example', 'host:10.0.0.2', 'via 10.0.0.2:5269; fronted here for other servers'],
  ]);
  const link = map.nodes.find((node) => node.id === 'link:hq');
  assert.deepEqual([link?.kind, link?.up], ['link', true]);
  assert.ok(map.edges.some((edge) => edge.kind === 'link' && edge.source === 'server' && edge.target === 'link:hq'));
  assert.ok(map.edges.some((edge) => edge.id === 'link hq' && edge.label?.endsWith('; 2 queued') === true), 'the queue of the link shows on its edge');
});
