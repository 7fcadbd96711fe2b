/** docs/security.md cannot drift: its examples are parsed, and what it says of the defaults and errors is checked. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, defaultConfig, parseConfig } from '../config/load.ts';
import { INTERMEDIATE_CIPHERS } from '../config/schema.ts';
import type { TrellisConfig } from '../config/types.ts';
import { tlsOptions } from './tls-settings.ts';

const DOC = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');

/** The YAML blocks of the page, by the name in their first line (`# example: name`). */
const examples = new Map(
  [...DOC.matchAll(/```yaml\n# example: ([\w-]+)\n([\s\S]*?)```/g)].map((match) => [match[1]!, parseConfig(match[2]!, { baseDir: '/srv/trellis' })]),
);

function example(name: string): TrellisConfig {
  const config = examples.get(name);
  assert.ok(config, `docs/security.md has no example named ${name}`);
  return config;
}

test('every YAML block of docs/security.md is a named example that parses', () => {
  assert.equal(examples.size, DOC.match(/```yaml\n/g)?.length ?? 0);
  assert.deepEqual([...examples.keys()], ['s2s-new-connections', 'strangers-per-host', 'tls13-only', 'legacy-cbc', 'mozilla-groups']);
});

test('s2s-new-connections: a larger burst and longer refusal periods', () => {
  const limits = example('s2s-new-connections').limits;
  assert.equal(limits.s2s_per_address, 512);
  assert.deepEqual(limits.s2s_new_connections, { per_address: 512, window: 60, backoff: 30, backoff_max: 3600, held_per_address: 32 });
});

test('the new-connection limits the page lists are the defaults', () => {
  const defaults = defaultConfig('/srv/trellis').limits.s2s_new_connections;
  for (const [key, value] of Object.entries(defaults)) assert.match(DOC, new RegExp(`\\| \`limits\\.s2s_new_connections\\.${key}\` \\| ${value} \\|`), key);
});

test('strangers-per-host: a host without the stranger limit beside one with the default', () => {
  const config = example('strangers-per-host');
  const host = (domain: string) => config.hosts.find((candidate) => candidate.domain === domain)!;
  assert.deepEqual(host('example.org').strangers, { max_messages: 30, window: 60 });
  assert.equal(host('bots.example.org').strangers.max_messages, 0);
  assert.equal(host('bots.example.org').strangers.window, 60);
});

test('tls13-only: TLS 1.3 with its three suites', () => {
  const options = tlsOptions(example('tls13-only').tls_settings);
  assert.equal(options.minVersion, 'TLSv1.3');
  assert.equal(options.maxVersion, 'TLSv1.3');
  assert.equal(options.ciphers, 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256');
});

test('legacy-cbc: the default list with one CBC suite at the end, server order kept', () => {
  const settings = example('legacy-cbc').tls_settings;
  assert.equal(settings.ciphers, `${INTERMEDIATE_CIPHERS}:ECDHE-RSA-AES128-SHA`);
  assert.equal(settings.prefer_server_ciphers, true);
  assert.equal(settings.min_version, 'TLSv1.2');
});

test("mozilla-groups: Mozilla's groups and the client's order", () => {
  const settings = example('mozilla-groups').tls_settings;
  assert.equal(settings.ecdh_curves, 'X25519:prime256v1:secp384r1');
  assert.equal(settings.prefer_server_ciphers, false);
  assert.equal(settings.ciphers, INTERMEDIATE_CIPHERS);
});

test('the defaults the page lists are the defaults', () => {
  const settings = defaultConfig('/srv/trellis').tls_settings;
  assert.equal(settings.min_version, 'TLSv1.2');
  assert.equal(settings.max_version, 'TLSv1.3');
  assert.equal(settings.ecdh_curves, 'auto');
  assert.equal(settings.prefer_server_ciphers, true);
  for (const suite of settings.ciphers.split(':')) assert.ok(DOC.includes(suite.startsWith('TLS_') ? `\`${suite}\`` : suite.replace(/^ECDHE-(ECDSA|RSA)-/, '')), suite);
});

test('the error the page quotes is the one the validator gives', () => {
  const quoted = /`(tls_settings\.min_version: [^`]+)`/.exec(DOC)?.[1];
  assert.ok(quoted);
  try {
    parseConfig('tls_settings: {min_version: TLSv1.1}\nhosts: {example.com: {}}', { baseDir: '/srv/trellis' });
    assert.fail('expected TLSv1.1 to be refused');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.ok(error.message.startsWith(quoted), `${error.message} does not start with ${quoted}`);
  }
});
