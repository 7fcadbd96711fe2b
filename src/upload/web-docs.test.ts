/** docs/web.md cannot drift: its examples are parsed, and what it says of them holds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../config/load.ts';
import type { TrellisConfig } from '../config/types.ts';
import { serviceSpecs } from '../services/service-hosts.ts';

const DOC = readFileSync(new URL('../../docs/web.md', import.meta.url), 'utf8');

const examples = new Map(
  [...DOC.matchAll(/```yaml\n# example: ([\w-]+)\n([\s\S]*?)```/g)].map((match) => [match[1]!, parseConfig(match[2]!.replace(/tls: \{ certificate: [^}]+\}/, '{}'), { baseDir: '/srv/trellis' })]),
);

function example(name: string): TrellisConfig {
  const config = examples.get(name);
  assert.ok(config, `docs/web.md has no example named ${name}`);
  return config;
}

const services = (config: TrellisConfig) => config.hosts.flatMap((host) => serviceSpecs(host, config).map((spec) => `${spec.kind} ${spec.domain}`));

test('every YAML block of docs/web.md is a named example that parses', () => {
  assert.equal(examples.size, DOC.match(/```yaml\n/g)?.length ?? 0);
  assert.deepEqual([...examples.keys()], ['https', 'behind-proxy', 'moved', 'upload']);
});

test('https: the listener on 5443 with TLS, WebSocket at /xmpp-websocket, upload.<host> started', () => {
  const { http } = example('https');
  assert.deepEqual([http.enabled, http.port, http.tls, http.websocket.path], [true, 5443, true, '/xmpp-websocket']);
  assert.deepEqual(services(example('https')), ['muc conference.example.com', 'pubsub pubsub.example.com', 'upload upload.example.com']);
});

test('behind-proxy: plain HTTP on loopback with the proxy trusted and the public URL set', () => {
  const { http } = example('behind-proxy');
  assert.deepEqual([http.tls, http.trusted_proxies, http.public_url], [false, ['127.0.0.1'], 'https://xmpp.example.com']);
});

test('moved: every WebSocket client sent to the new endpoint', () => {
  assert.equal(example('moved').http.websocket.see_other_uri, 'wss://chat.example.com/xmpp-websocket');
});

test('upload: limits inherited, renamed on one host, off on the other', () => {
  const config = example('upload');
  assert.deepEqual(services(config), ['muc conference.example.com', 'pubsub pubsub.example.com', 'upload files.example.com', 'muc conference.example.net', 'pubsub pubsub.example.net']);
  assert.deepEqual([config.hosts[0]!.upload.max_file_size, config.hosts[0]!.upload.quota, config.hosts[0]!.upload.expire_after], [52428800, 524288000, 2592000]);
});

test('with the HTTP listener turned off there is no upload service', () => {
  const config = parseConfig('http: {enabled: false}\nhosts: {example.com: {}}', { baseDir: '/srv/trellis' });
  assert.deepEqual(services(config), ['muc conference.example.com', 'pubsub pubsub.example.com']);
});
