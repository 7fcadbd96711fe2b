/** docs/muc.md cannot drift: its examples are parsed, and the defaults it lists are the defaults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultConfig, parseConfig } from '../config/load.ts';
import type { TrellisConfig } from '../config/types.ts';
import { serviceSpecs } from '../services/service-hosts.ts';

const DOC = readFileSync(new URL('../../docs/muc.md', import.meta.url), 'utf8');

const examples = new Map(
  [...DOC.matchAll(/```yaml\n# example: ([\w-]+)\n([\s\S]*?)```/g)].map((match) => [match[1]!, parseConfig(match[2]!, { baseDir: '/srv/trellis' })]),
);

function example(name: string): TrellisConfig {
  const config = examples.get(name);
  assert.ok(config, `docs/muc.md has no example named ${name}`);
  return config;
}

const services = (config: TrellisConfig) => config.hosts.flatMap((host) => serviceSpecs(host, config).flatMap((spec) => (spec.kind === 'muc' ? [spec.domain] : [])));

test('every YAML block of docs/muc.md is a named example that parses', () => {
  assert.equal(examples.size, DOC.match(/```yaml\n/g)?.length ?? 0);
  assert.deepEqual([...examples.keys()], ['per-host', 'no-foreign-occupants', 'limits']);
});

test('per-host: renamed on one host, off on another, the default on the third, the name inherited', () => {
  const config = example('per-host');
  assert.deepEqual(services(config), ['chat.example.com', 'conference.example.net']);
  assert.ok(config.hosts.every((host) => host.muc.name === 'Rooms'));
});

test('no-foreign-occupants: the groupchat feature group denied', () => {
  assert.deepEqual(example('no-foreign-occupants').hosts[0]!.foreign_access.deny, ['groupchat']);
});

test('limits: the values written reach the host', () => {
  const muc = example('limits').hosts[0]!.muc;
  assert.deepEqual({ ...muc }, { enabled: true, subdomain: 'conference', name: 'Chatrooms', room_creation: 'anyone', max_rooms: 500, max_occupants: 50, history_length: 50, max_history: 200, max_affiliations: 1000 });
});

test('the defaults the page lists are the defaults, and every host has a service without configuration', () => {
  const config = defaultConfig('/srv/trellis');
  const muc = config.muc;
  for (const [key, value] of Object.entries({ max_rooms: 10000, max_occupants: 500, history_length: 20, max_history: 100, max_affiliations: 10000 })) {
    assert.match(DOC, new RegExp(`\\| \`muc\\.${key}\` \\| ${value} \\|`), key);
    assert.equal(muc[key as keyof typeof muc], value, key);
  }
  assert.equal(muc.room_creation, 'local');
  assert.match(DOC, /\| `local` \(default\) \|/);
  assert.deepEqual(services(config), config.hosts.map((host) => `conference.${host.domain}`));
});
