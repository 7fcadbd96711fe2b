/** docs/clients.md cannot drift: its examples are parsed, and the defaults it names are the defaults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultConfig, parseConfig } from '../config/load.ts';
import type { TrellisConfig } from '../config/types.ts';
import { MODULE_NAMES } from '../config/types.ts';
import { FEATURE_MODULES } from './index.ts';

const DOC = readFileSync(new URL('../../docs/clients.md', import.meta.url), 'utf8');

const examples = new Map(
  [...DOC.matchAll(/```yaml\n# example: ([\w-]+)\n([\s\S]*?)```/g)].map((match) => [match[1]!, parseConfig(withHost(match[2]!), { baseDir: '/srv/trellis' })]),
);

/** An example that shows no hosts gets one, as a configuration needs. */
function withHost(yaml: string): string {
  return /^hosts:/m.test(yaml) ? yaml : `${yaml}hosts: {example.com: {}}\n`;
}

function example(name: string): TrellisConfig {
  const config = examples.get(name);
  assert.ok(config, `docs/clients.md has no example named ${name}`);
  return config;
}

test('every YAML block of docs/clients.md is a named example that parses', () => {
  assert.equal(examples.size, DOC.match(/```yaml\n/g)?.length ?? 0);
  assert.deepEqual([...examples.keys()], ['fast', 'csi', 'contact-addresses', 'calls', 'modules-off']);
});

test('calls: the services parse and the TURN secret reaches the host', () => {
  const services = example('calls').hosts[0]!.external_services;
  assert.equal(services.services.length, 3);
  assert.deepEqual([services.secret, services.credential_lifetime], ['the static-auth-secret of coturn', 86400]);
});

test('csi: the limit written reaches the c2s settings; the default is the one the page names', () => {
  assert.deepEqual(example('csi').c2s.csi, { enabled: true, max_held: 100 });
  assert.equal(defaultConfig('/srv/trellis').c2s.csi.max_held, 250);
  assert.match(DOC, /`c2s\.csi\.max_held` \(default 250\)/);
});

test('fast: the example shows the defaults', () => {
  assert.deepEqual(example('fast').c2s.fast, defaultConfig('/srv/trellis').c2s.fast);
  assert.deepEqual(example('fast').c2s.fast, { enabled: true, token_lifetime: 14 * 86400, max_tokens_per_account: 16 });
});

test('contact-addresses: top-level kinds inherited, a host adds its own', () => {
  const [com, org] = example('contact-addresses').hosts;
  assert.deepEqual(com!.contact_addresses, { abuse: ['mailto:abuse@example.com'], admin: ['xmpp:admin@example.com'], feedback: [], sales: [], security: [], status: [], support: ['https://example.com/help', 'xmpp:support@example.com'] });
  assert.deepEqual(org!.contact_addresses.support, []);
  assert.deepEqual(org!.contact_addresses.abuse, ['mailto:abuse@example.com']);
});

test('modules-off: a host list replaces the top-level one', () => {
  const [com, org] = example('modules-off').hosts;
  assert.deepEqual(com!.modules_disabled, ['last', 'carbons', 'time']);
  assert.deepEqual(org!.modules_disabled, ['last']);
});

test('every module the table names exists, and every module is in the table', () => {
  // The third column: module names first, then after a semicolon the keys.
  const moduleColumns = [...DOC.matchAll(/^\| [^|]+ \| [^|]+ \| ([^|]+) \|$/gm)].map((match) => match[1]!.split(';')[0]!);
  const named = moduleColumns.flatMap((column) => [...column.matchAll(/`([a-z]+)`/g)].map((match) => match[1]!));
  for (const name of named) assert.ok(FEATURE_MODULES[name as keyof typeof FEATURE_MODULES], name);
  // The strangers limit is no protocol of its own (docs/security.md).
  for (const name of MODULE_NAMES) if (name !== 'strangers') assert.ok(named.includes(name), `${name} is not in the table`);
});
