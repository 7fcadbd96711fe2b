import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, defaultConfig, findConfigFile, loadConfig, parseConfig } from './load.ts';

const baseDir = '/srv/trellis';

/** Temporary directories this file made, removed when it ends. */
const scratchDirs: string[] = [];
function scratchDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-config-'));
  scratchDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

/** The IM settings every host gets when nothing is written. */
const DEFAULT_SETTINGS = {
  modules_disabled: [],
  roster: { max_items: 1000 },
  offline: { max_messages: 500, max_bytes: 10485760, max_per_sender: 100 },
  strangers: { max_messages: 30, window: 60 },
  registration: { enabled: false, max_per_ip_per_hour: 5, invite_days: 7, user_invites: 'contact' },
  version: { hidden: false },
  disco: { items: [] },
  motd: { text: '' },
  admins: [],
  contact_addresses: { abuse: [], admin: [], feedback: [], sales: [], security: [], status: [], support: [] },
  foreign_access: { default: 'allow', deny: [], allow: [] },
  muc: { enabled: true, subdomain: 'conference', name: 'Chatrooms', room_creation: 'local', max_rooms: 10000, max_occupants: 500, history_length: 20, max_history: 100, max_affiliations: 10000 },
  pep: { max_nodes: 256, max_items: 1000, max_item_bytes: 131072 },
  pubsub: { enabled: true, subdomain: 'pubsub', name: 'Publish-Subscribe', node_creation: 'local', max_nodes: 10000, max_items: 1000, max_item_bytes: 131072, max_subscriptions: 10000 },
  mam: { default: 'always', max_age_days: 365, max_messages: 100000, page_size: 50, max_page_size: 250, retention_interval: 600, rooms: true },
  push: { include_sender: false, include_body: false, max_registrations: 10 },
  external_services: { services: [], credential_lifetime: 86400 },
  upload: { enabled: true, subdomain: 'upload', name: 'HTTP File Upload', max_file_size: 104857600, quota: 1073741824, expire_after: 604800, slot_lifetime: 300, directory: 'uploads' },
};

function problemsOf(yamlText: string, dir = baseDir): ConfigError {
  try {
    parseConfig(yamlText, { file: 'trellis.yaml', baseDir: dir });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the configuration to be rejected');
}

describe('configuration errors name the key', () => {
  const cases: { name: string; yaml: string; path: string; message: RegExp }[] = [
    {
      name: 'wrong type',
      yaml: 'hosts: {localhost: {}}\nc2s: {limits: {max_stanza_bytes: big}}',
      path: 'c2s.limits.max_stanza_bytes',
      message: /^expected an integer between 1024 and 67108864, got "big"$/,
    },
    {
      name: 'out of range',
      yaml: 'hosts: {localhost: {}}\nlisteners: {c2s: {port: 70000}}',
      path: 'listeners.c2s.port',
      message: /^expected an integer between 0 and 65535, got 70000$/,
    },
    {
      name: 'not an integer',
      yaml: 'hosts: {localhost: {}}\nc2s: {pre_auth_timeout: 1.5}',
      path: 'c2s.pre_auth_timeout',
      message: /got 1\.5$/,
    },
    {
      name: 'boolean written as a word',
      yaml: 'hosts: {localhost: {}}\nc2s: {require_tls: yes}',
      path: 'c2s.require_tls',
      message: /^expected true or false, got "yes"$/,
    },
    {
      name: 'unknown key with a suggestion',
      yaml: 'hosts: {localhost: {}}\nc2s: {requre_tls: true}',
      path: 'c2s.requre_tls',
      message: /^unknown key "requre_tls"; did you mean "require_tls"\?$/,
    },
    {
      name: 'unknown key with nothing close',
      yaml: 'hosts: {localhost: {}}\nfederation: true',
      path: 'federation',
      message: /^unknown key "federation"$/,
    },
    {
      name: 'unknown key inside a host',
      yaml: 'hosts: {example.com: {tsl: {}}}',
      path: 'hosts["example.com"].tsl',
      message: /did you mean "tls"\?$/,
    },
    {
      name: 'bad enum',
      yaml: 'hosts: {localhost: {}}\nlog: {level: verbose}',
      path: 'log.level',
      message: /^expected one of "debug", "info", "warn", "error", got "verbose"$/,
    },
    {
      name: 'bad enum inside a list, with a suggestion',
      yaml: 'hosts: {localhost: {}}\nc2s: {sasl_mechanisms: [SCRAM-SHA-256, plain]}',
      path: 'c2s.sasl_mechanisms[1]',
      message: /got "plain"; did you mean "PLAIN"\?$/,
    },
    {
      name: 'repeated list item',
      yaml: 'hosts: {localhost: {}}\nc2s: {sasl_mechanisms: [PLAIN, PLAIN]}',
      path: 'c2s.sasl_mechanisms[1]',
      message: /^"PLAIN" is listed twice$/,
    },
    {
      name: 'empty list',
      yaml: 'hosts: {localhost: {}}\nlisteners: {c2s: {addresses: []}}',
      path: 'listeners.c2s.addresses',
      message: /^expected at least 1 item, got 0$/,
    },
    {
      name: 'empty string',
      yaml: 'hosts: {localhost: {}}\ndata_dir: ""',
      path: 'data_dir',
      message: /^expected a non-empty string, got ""$/,
    },
    {
      name: 'section that is not a mapping',
      yaml: 'hosts: {localhost: {}}\nlog: loud',
      path: 'log',
      message: /^expected a mapping, got "loud"$/,
    },
    {
      name: 'bad domain key',
      yaml: 'hosts: {"exa mple.com": {}}',
      path: 'hosts["exa mple.com"]',
      message: /^"exa mple\.com" is not a valid domain: /,
    },
    {
      name: 'duplicate hosts after preparation',
      yaml: 'hosts: {example.com: {}, EXAMPLE.com: {}}',
      path: 'hosts["EXAMPLE.com"]',
      message: /^the same domain as hosts\["example\.com"\] \("example\.com"\)$/,
    },
    {
      name: 'no hosts',
      yaml: 'data_dir: /var/lib/trellis',
      path: 'hosts',
      message: /^expected at least 1 entry keyed by domain, got 0$/,
    },
    {
      name: 'missing postgres_url',
      yaml: 'hosts: {localhost: {}}\nstorage: {driver: postgres}',
      path: 'storage.postgres_url',
      message: /^required when storage\.driver is "postgres"$/,
    },
    {
      name: 'postgres_url that is not a postgres URL',
      yaml: 'hosts: {localhost: {}}\nstorage: {driver: postgres, postgres_url: "mysql://db"}',
      path: 'storage.postgres_url',
      message: /^expected a postgres:\/\/ or postgresql:\/\/ URL, got "mysql:\/\/db"$/,
    },
    {
      name: 'cluster on SQLite storage',
      yaml: 'hosts: {localhost: {}}\ncluster: {node: a, redis_url: "redis://127.0.0.1:6379"}',
      path: 'cluster',
      message: /^needs storage\.driver: postgres, /,
    },
    {
      name: 'cluster without a Redis address',
      yaml: 'hosts: {localhost: {}}\nstorage: {driver: postgres, postgres_url: "postgres://db/x"}\ncluster: {node: a}',
      path: 'cluster.redis_url',
      message: /^required key is missing$/,
    },
    {
      name: 'cluster lease shorter than three heartbeats',
      yaml: 'hosts: {localhost: {}}\nstorage: {driver: postgres, postgres_url: "postgres://db/x"}\ncluster: {node: a, redis_url: "redis://r:6379", heartbeat_interval_ms: 1000, lease_ms: 2000}',
      path: 'cluster.lease_ms',
      message: /^must be at least three heartbeats \(3 × heartbeat_interval_ms = 3000\), got 2000/,
    },
    {
      name: 'cluster node name with a space',
      yaml: 'hosts: {localhost: {}}\nstorage: {driver: postgres, postgres_url: "postgres://db/x"}\ncluster: {node: "a b", redis_url: "redis://r:6379"}',
      path: 'cluster.node',
      message: /letters, digits/,
    },
    {
      name: 'tls section without a key',
      yaml: 'hosts: {localhost: {}}\ntls: {certificate: cert.pem}',
      path: 'tls.key',
      message: /^required key is missing$/,
    },
    {
      name: 'missing TLS file',
      yaml: 'hosts: {example.com: {tls: {certificate: /nonexistent/cert.pem, key: /nonexistent/key.pem}}}',
      path: 'hosts["example.com"].tls.certificate',
      message: /^cannot read "\/nonexistent\/cert\.pem": no such file$/,
    },
    {
      name: 'TLS path that is a directory',
      yaml: 'hosts: {localhost: {}}\ntls: {certificate: /, key: /}',
      path: 'tls.key',
      message: /^expected a readable file, but "\/" is a directory$/,
    },
    {
      name: 'address list entry that is not an address',
      yaml: 'hosts: {localhost: {}}\ns2s: {access: {deny_addresses: [10.0.0.0/8, 10.0.0.0/33]}}',
      path: 's2s.access.deny_addresses[1]',
      message: /^"10\.0\.0\.0\/33" is not a valid IP address or CIDR range: the prefix length must be a number from 0 to 32 for IPv4$/,
    },
    {
      name: 'address range with bits beyond the prefix',
      yaml: 'hosts: {localhost: {}}\ns2s: {access: {allow_addresses: ["2001:db8::1/32"]}}',
      path: 's2s.access.allow_addresses[0]',
      message: /the range is 2001:db8::\/32$/,
    },
    {
      name: 'domain list entry that is not a domain',
      yaml: 'hosts: {localhost: {}}\ns2s: {access: {allow_domains: ["bad domain"]}}',
      path: 's2s.access.allow_domains[0]',
      message: /^"bad domain" is not a valid domain or \*\.domain pattern: /,
    },
    {
      name: 'foreign access entry that is neither a group nor a namespace',
      yaml: 'hosts: {localhost: {}}\nforeign_access: {deny: [filetransfer]}',
      path: 'foreign_access.deny[0]',
      message: /^"filetransfer" is not a valid feature group or namespace: expected one of .*; did you mean "file-transfer"\?$/,
    },
    {
      name: 'foreign access entry in a host',
      yaml: 'hosts: {a.example: {foreign_access: {allow: [ping]}}}',
      path: 'hosts["a.example"].foreign_access.allow[0]',
      message: /or a namespace URI such as urn:xmpp:ping$/,
    },
    {
      name: 'foreign access default that is not allow or deny',
      yaml: 'hosts: {localhost: {}}\nforeign_access: {default: block}',
      path: 'foreign_access.default',
      message: /^expected one of "allow", "deny", got "block"$/,
    },
    {
      name: 'foreign access entry in both lists',
      yaml: 'hosts: {localhost: {}}\nforeign_access: {deny: [chat, groupchat], allow: [groupchat]}',
      path: 'foreign_access.allow',
      message: /^"groupchat" is also in deny; an entry belongs in one list$/,
    },
    {
      name: 'TLS version that is not offered (RFC 8996)',
      yaml: 'hosts: {localhost: {}}\ntls_settings: {min_version: TLSv1.1}',
      path: 'tls_settings.min_version',
      message: /^expected one of "TLSv1\.2", "TLSv1\.3", got "TLSv1\.1"; did you mean "TLSv1\.2"\?$/,
    },
    {
      name: 'TLS version written as a number',
      yaml: 'hosts: {localhost: {}}\ntls_settings: {max_version: 1.3}',
      path: 'tls_settings.max_version',
      message: /^expected one of "TLSv1\.2", "TLSv1\.3", got 1\.3$/,
    },
    {
      name: 'TLS max_version older than min_version',
      yaml: 'hosts: {localhost: {}}\ntls_settings: {min_version: TLSv1.3, max_version: TLSv1.2}',
      path: 'tls_settings.max_version',
      message: /^TLSv1\.2 is older than min_version TLSv1\.3$/,
    },
    {
      name: 'cipher list OpenSSL matches nothing in',
      yaml: 'hosts: {localhost: {}}\ntls_settings: {ciphers: "AES-FAST:RC5"}',
      path: 'tls_settings.ciphers',
      message: /^"AES-FAST:RC5" is not a valid OpenSSL cipher list: OpenSSL refuses it \(.*no cipher match\)/,
    },
    {
      name: 'cipher list without TLS 1.3 suites while TLS 1.3 is on',
      yaml: 'hosts: {localhost: {}}\ntls_settings: {ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256"}',
      path: 'tls_settings.ciphers',
      message: /^names no TLS 1\.3 suite .*; add them, or set max_version to TLSv1\.2$/,
    },
    {
      name: 'cipher list without TLS 1.2 suites while TLS 1.2 is on',
      yaml: 'hosts: {localhost: {}}\ntls_settings: {ciphers: "TLS_AES_128_GCM_SHA256"}',
      path: 'tls_settings.ciphers',
      message: /^names no TLS 1\.2 cipher suite OpenSSL knows, .*; add some, or set min_version to TLSv1\.3$/,
    },
    {
      name: 'unknown key exchange group',
      yaml: 'hosts: {localhost: {}}\ntls_settings: {ecdh_curves: "X25519:P-999"}',
      path: 'tls_settings.ecdh_curves',
      message: /^"X25519:P-999" is not a valid list of key exchange groups: OpenSSL \S+ does not know the group "P-999"/,
    },
    {
      name: 'misspelt key in tls_settings',
      yaml: 'hosts: {localhost: {}}\ntls_settings: {min_versoin: TLSv1.3}',
      path: 'tls_settings.min_versoin',
      message: /^unknown key "min_versoin"; did you mean "min_version"\?$/,
    },
    {
      name: 'document that is not a mapping',
      yaml: '- localhost',
      path: '',
      message: /^expected a mapping, got a list$/,
    },
  ];

  for (const { name, yaml, path: keyPath, message } of cases) {
    test(name, () => {
      const error = problemsOf(yaml);
      const problem = error.problems.find((p) => p.path === keyPath);
      assert.ok(problem, `no problem at ${keyPath}; got ${JSON.stringify(error.problems)}`);
      assert.match(problem.message, message);
      const expectedLine = keyPath === '' ? `trellis.yaml: ${problem.message}` : `trellis.yaml: ${keyPath}: ${problem.message}`;
      assert.ok(error.message.split('\n').includes(expectedLine), error.message);
    });
  }

  test('YAML syntax error reports line and column', () => {
    const error = problemsOf('hosts:\n  localhost: {}\n c2s: {}\n');
    assert.equal(error.problems.length, 1);
    assert.deepEqual([error.problems[0].line, error.problems[0].column], [3, 1]);
    assert.match(error.message, /^trellis\.yaml:3:1: \S/);
    assert.doesNotMatch(error.message, /\n/);
  });

  test('every problem is collected, one line each', () => {
    const error = problemsOf('log: {level: loud, format: xml}\nc2s: {max_auth_failures: 0}\nhosts: {}');
    assert.deepEqual(error.problems.map((p) => p.path), ['log.level', 'log.format', 'c2s.max_auth_failures', 'hosts']);
    assert.equal(error.message.split('\n').length, 4);
    assert.equal(error.file, 'trellis.yaml');
  });

  test('without a file the lines start with the key path', () => {
    assert.throws(
      () => parseConfig('hosts: {localhost: {}}\nlog: {level: loud}', { baseDir }),
      (error: ConfigError) => error.message.startsWith('log.level: expected one of') && error.file === undefined,
    );
  });
});

describe('parseConfig', () => {
  test('fills every default', () => {
    const config = parseConfig('hosts:\n  localhost:\n', { baseDir });
    assert.deepEqual(config, {
      mode: 'server',
      data_dir: '/srv/trellis/data',
      log: { level: 'info', format: 'text' },
      listeners: {
        c2s: { enabled: true, addresses: ['*'], port: 5222 },
        c2s_direct_tls: { enabled: false, addresses: ['*'], port: 5223 },
        s2s: { enabled: true, addresses: ['*'], port: 5269 },
        s2s_direct_tls: { enabled: false, addresses: ['*'], port: 5270 },
        component: { enabled: true, addresses: ['127.0.0.1'], port: 5347 },
      },
      storage: { driver: 'sqlite', sqlite_file: '/srv/trellis/data/trellis.sqlite' },
      tls_settings: {
        min_version: 'TLSv1.2',
        max_version: 'TLSv1.3',
        ciphers:
          'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:' +
          'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:' +
          'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305',
        ecdh_curves: 'auto',
        prefer_server_ciphers: true,
      },
      c2s: {
        require_tls: true,
        sasl_mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1', 'PLAIN'],
        pre_auth_timeout: 30,
        idle_timeout: 600,
        auth_failure_delay: 500,
        max_auth_failures: 3,
        scram_iterations: 10000,
        limits: {
          max_stanza_bytes: 262144,
          max_depth: 64,
          max_attributes: 64,
          max_attribute_bytes: 8192,
          max_text_bytes: 262144,
        },
        pre_auth_max_stanza_bytes: 16384,
        rate: { bytes_per_second: 20480, burst_bytes: 262144, stanzas_per_second: 50, burst_stanzas: 200 },
        max_sessions_per_account: 10,
        keepalive: { interval: 25, timeout: 15 },
        stream_management: { enabled: true, resume_timeout: 300 },
        fast: { enabled: true, token_lifetime: 1209600, max_tokens_per_account: 16 },
        csi: { enabled: true, max_held: 250 },
        output: { session_buffer: 1048576, total_buffer: 67108864 },
      },
      s2s: {
        enabled: true,
        min_level: 'encrypted',
        peers: [],
        peering: [],
        peering_groups: [],
        peering_audit: { enabled: true, record_actions: false, retention_days: 90, max_records: 1000000, write_interval: 1, webhook_timeout: 5 },
        relay_hop_limit: 8,
        ca_files: [],
        use_system_ca: true,
        connect_timeout: 10,
        negotiation_timeout: 30,
        idle_timeout: 600,
        bidi: true,
        multiplex: true,
        queue_max_stanzas: 1000,
        retry_initial_delay: 5,
        retry_max_delay: 600,
        limits: {
          max_stanza_bytes: 524288,
          max_depth: 64,
          max_attributes: 64,
          max_attribute_bytes: 8192,
          max_text_bytes: 524288,
        },
        rate: { bytes_per_second: 262144, burst_bytes: 2097152, stanzas_per_second: 1000, burst_stanzas: 5000 },
        rate_pairs_max: 64,
        output: { connection_buffer: 2097152, total_buffer: 67108864 },
        access: { deny_domains: [], allow_domains: [], deny_addresses: [], allow_addresses: [] },
        delegation: {
          methods: ['dnssec_srv', 'dane', 'posh', 'host_activation'],
          resolvers: [],
          resolver_timeout: 3,
          accept_unsigned_srv: [],
          posh: { ca_files: [], use_system_ca: true, timeout: 10, max_bytes: 65536, cache_entries: 10000, max_cache_time: 86400 },
        },
        host_streams: { enabled: false, name: 'localhost' },
      },
      limits: {
        c2s_per_address: 32,
        s2s_per_address: 128,
        component_per_address: 16,
        s2s_new_connections: { per_address: 128, window: 60, backoff: 10, backoff_max: 600, held_per_address: 8 },
        c2s_unauthenticated: 1000,
        max_open_files_percent: 90,
        max_heap_percent: 85,
        max_memory_mib: 0,
        log_interval: 60,
        auth: { window: 600, block_duration: 600, max_failures_per_address: 20, max_failures_per_account_address: 5, max_failures_per_account: 50 },
      },
      dns: { servers: [], timeout: 5, cache_entries: 10000 },
      admin: { enabled: true, socket: '/srv/trellis/data/admin.sock' },
      component: {
        handshake_timeout: 10,
        pre_handshake_max_stanza_bytes: 4096,
        limits: { max_stanza_bytes: 524288, max_depth: 64, max_attributes: 64, max_attribute_bytes: 8192, max_text_bytes: 524288 },
        rate: { bytes_per_second: 1048576, burst_bytes: 4194304, stanzas_per_second: 2000, burst_stanzas: 10000 },
        reconnect_hold: 10,
        hold_max_stanzas: 1000,
      },
      components: [],
      links: [],
      http: {
        enabled: true,
        addresses: ['*'],
        port: 5443,
        tls: true,
        trusted_proxies: [],
        max_connections: 1024,
        max_header_bytes: 16384,
        header_timeout: 10,
        request_timeout: 300,
        idle_timeout: 30,
        websocket: { enabled: true, path: '/xmpp-websocket' },
        console: { enabled: false, admins: [], session_lifetime: 28800, idle_timeout: 1800, max_sessions: 64, max_event_streams: 16 },
      },
      ...DEFAULT_SETTINGS,
      hosts: [{ domain: 'localhost', ...DEFAULT_SETTINGS }],
    });
  });

  test('keeps written values next to defaults in the same section', () => {
    const config = parseConfig('hosts: {localhost: {}}\nc2s: {limits: {max_depth: 8}}\nlog: {format: json}', { baseDir });
    assert.equal(config.c2s.limits.max_depth, 8);
    assert.equal(config.c2s.limits.max_stanza_bytes, 262144);
    assert.deepEqual(config.log, { level: 'info', format: 'json' });
  });

  test('tls_settings: TLS 1.3 only with its suites alone, and a TLS 1.2 only list', () => {
    const tls13 = parseConfig('hosts: {localhost: {}}\ntls_settings: {min_version: TLSv1.3, ciphers: "TLS_AES_256_GCM_SHA384"}', { baseDir });
    assert.deepEqual(tls13.tls_settings, { min_version: 'TLSv1.3', max_version: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384', ecdh_curves: 'auto', prefer_server_ciphers: true });
    const tls12 = parseConfig('hosts: {localhost: {}}\ntls_settings: {max_version: TLSv1.2, ciphers: "ECDHE-RSA-AES256-GCM-SHA384", ecdh_curves: "X25519:prime256v1", prefer_server_ciphers: false}', { baseDir });
    assert.deepEqual(tls12.tls_settings, { min_version: 'TLSv1.2', max_version: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384', ecdh_curves: 'X25519:prime256v1', prefer_server_ciphers: false });
  });

  test('prepares host domains and keeps their order', () => {
    const config = parseConfig('hosts: {Example.COM: {}, localhost: {}}', { baseDir });
    assert.deepEqual(config.hosts.map((host) => host.domain), ['example.com', 'localhost']);
  });

  test('resolves admin.socket against data_dir unless absolute', () => {
    assert.equal(parseConfig('data_dir: var\nhosts: {localhost: {}}\nadmin: {socket: run/a.sock}', { baseDir }).admin.socket, '/srv/trellis/var/run/a.sock');
    assert.equal(parseConfig('hosts: {localhost: {}}\nadmin: {socket: /run/trellis.sock}', { baseDir }).admin.socket, '/run/trellis.sock');
  });

  test('resolves data_dir against the base directory and sqlite_file against data_dir', () => {
    const relative = parseConfig('data_dir: var/db\nhosts: {localhost: {}}\nstorage: {sqlite_file: x/t.db}', { baseDir });
    assert.equal(relative.data_dir, '/srv/trellis/var/db');
    assert.equal(relative.storage.sqlite_file, '/srv/trellis/var/db/x/t.db');
    const absolute = parseConfig('data_dir: /data\nhosts: {localhost: {}}\nstorage: {sqlite_file: /db/t.db}', { baseDir });
    assert.equal(absolute.data_dir, '/data');
    assert.equal(absolute.storage.sqlite_file, '/db/t.db');
  });

  test('resolves TLS files against the base directory and checks they are readable', () => {
    const dir = scratchDir();
    mkdirSync(path.join(dir, 'certs'));
    writeFileSync(path.join(dir, 'certs', 'cert.pem'), 'certificate');
    writeFileSync(path.join(dir, 'certs', 'key.pem'), 'key');
    const yaml = [
      'tls: {certificate: certs/cert.pem, key: certs/key.pem}',
      `hosts: {example.com: {tls: {certificate: ${dir}/certs/cert.pem, key: ./certs/key.pem}}, localhost: {}}`,
    ].join('\n');
    const config = parseConfig(yaml, { baseDir: dir });
    const files = { certificate: path.join(dir, 'certs', 'cert.pem'), key: path.join(dir, 'certs', 'key.pem') };
    assert.deepEqual(config.tls, files);
    assert.deepEqual(config.hosts, [{ domain: 'example.com', tls: files, ...DEFAULT_SETTINGS }, { domain: 'localhost', ...DEFAULT_SETTINGS }]);
  });

  test('accepts postgres with a URL', () => {
    const config = parseConfig('hosts: {localhost: {}}\nstorage: {driver: postgres, postgres_url: "postgres://u:p@db/trellis"}', {
      baseDir,
    });
    assert.equal(config.storage.driver, 'postgres');
    assert.equal(config.storage.postgres_url, 'postgres://u:p@db/trellis');
  });

  test('a cluster section on postgres, with its timing defaults; none without one', () => {
    const config = parseConfig('hosts: {localhost: {}}\nstorage: {driver: postgres, postgres_url: "postgres://db/x"}\ncluster: {node: n1, redis_url: "redis://127.0.0.1:6379/2"}', { baseDir });
    assert.deepEqual(config.cluster, { node: 'n1', redis_url: 'redis://127.0.0.1:6379/2', key_prefix: 'trellis', heartbeat_interval_ms: 1000, lease_ms: 5000, inbox_max_entries: 100_000 });
    assert.equal(parseConfig('hosts: {localhost: {}}', { baseDir }).cluster, undefined);
  });

  test('records the source file, absolute', () => {
    const config = parseConfig('hosts: {localhost: {}}', { file: 'conf/trellis.yaml', baseDir });
    assert.equal(config.source, path.resolve('conf/trellis.yaml'));
  });

  test('returns a deeply frozen object', () => {
    const config = parseConfig('hosts: {localhost: {}}\ntls: {certificate: /dev/null, key: /dev/null}', { baseDir });
    for (const part of [config, config.log, config.listeners.c2s, config.listeners.c2s.addresses, config.storage, config.tls,
      config.c2s, config.c2s.sasl_mechanisms, config.c2s.limits, config.hosts, config.hosts[0]]) {
      assert.ok(Object.isFrozen(part));
    }
    assert.throws(() => {
      (config.c2s.limits as { max_depth: number }).max_depth = 1;
    }, TypeError);
  });
});

describe('loadConfig', () => {
  test('reads a file and resolves paths against its directory', async () => {
    const dir = scratchDir();
    const file = path.join(dir, 'trellis.yaml');
    writeFileSync(file, 'hosts: {localhost: {}}\n');
    const config = await loadConfig(file);
    assert.equal(config.source, file);
    assert.equal(config.data_dir, path.join(dir, 'data'));
  });

  test('lets go of the YAML parser once the file is read, and loads it again for the next file', async () => {
    const dir = scratchDir();
    const file = path.join(dir, 'trellis.yaml');
    const yamlModules = () => Object.keys(createRequire(import.meta.url).cache).filter((loaded) => loaded.includes(`${path.sep}node_modules${path.sep}yaml${path.sep}`));
    writeFileSync(file, 'hosts: {localhost: {}}\n');
    await loadConfig(file);
    assert.deepEqual(yamlModules(), []);
    writeFileSync(file, 'hosts: {example.com: {}}\n');
    assert.equal((await loadConfig(file)).hosts[0]!.domain, 'example.com');
    assert.deepEqual(yamlModules(), []);
    // A syntax error is still reported with its place, and the parser let go of all the same.
    writeFileSync(file, 'hosts: [\n');
    await assert.rejects(loadConfig(file), /trellis\.yaml:\d+:\d+/);
    assert.deepEqual(yamlModules(), []);
  });

  test('a missing file is a ConfigError naming the file', async () => {
    await assert.rejects(loadConfig('/nonexistent/trellis.yaml'), (error: ConfigError) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.file, '/nonexistent/trellis.yaml');
      assert.equal(error.message, '/nonexistent/trellis.yaml: cannot read configuration file: no such file');
      return true;
    });
  });
});

describe('federation settings', () => {
  test('peer rules accept exact domains and subdomain wildcards, prepared', () => {
    const config = parseConfig('hosts: {localhost: {}}\ns2s:\n  min_level: verified\n  peers:\n    Example.COM: {level: trusted}\n    "*.example.org": {level: permissive}\n', { baseDir });
    assert.equal(config.s2s.min_level, 'verified');
    assert.deepEqual(config.s2s.peers, [
      { domain: 'example.com', level: 'trusted' },
      { domain: '*.example.org', level: 'permissive' },
    ]);
  });

  test('s2s.delegation: resolver addresses, methods and domain patterns are checked; POSH CA files resolved and readable', () => {
    const error = problemsOf('hosts: {localhost: {}}\ns2s:\n  delegation:\n    resolvers: ["127.0.0.1:5353", resolver.example]\n    methods: [dnssec]\n    accept_unsigned_srv: ["bad domain"]\n    posh: {ca_files: [missing-ca.pem]}\n');
    assert.deepEqual(error.problems.map((problem) => problem.path).sort(), [
      's2s.delegation.accept_unsigned_srv[0]',
      's2s.delegation.methods[0]',
      's2s.delegation.resolvers[1]',
    ]);
    const resolved = problemsOf('hosts: {localhost: {}}\ns2s: {delegation: {posh: {ca_files: [missing-ca.pem]}}}\n');
    assert.deepEqual(resolved.problems.map((problem) => problem.path), ['s2s.delegation.posh.ca_files[0]']);
    assert.match(resolved.message, /\/srv\/trellis\/missing-ca\.pem/);
    const config = parseConfig('hosts: {localhost: {}}\ns2s: {delegation: {resolvers: ["[::1]:53"], accept_unsigned_srv: [Lab.Example, "*.Trusted.Example"]}}\n', { baseDir });
    assert.deepEqual(config.s2s.delegation.resolvers, ['[::1]:53']);
    assert.deepEqual(config.s2s.delegation.accept_unsigned_srv, ['lab.example', '*.trusted.example']);
  });

  test('a bad level or peer key names the key', () => {
    const error = problemsOf('hosts: {localhost: {}}\ns2s:\n  min_level: paranoid\n  peers:\n    "bad domain": {level: trusted}\n    ok.example: {}\n');
    assert.deepEqual(error.problems.map((problem) => problem.path).sort(), ['s2s.min_level', 's2s.peers["bad domain"]', 's2s.peers["ok.example"].level']);
  });
});

describe('peering policy settings', () => {
  test('access lists keep their entries, domains prepared', () => {
    const config = parseConfig(
      'hosts: {localhost: {}}\ns2s:\n  access:\n    deny_domains: [Spam.Example, "*.bad.example"]\n    allow_addresses: [10.0.0.0/8, "2001:db8::/32", "::ffff:192.0.2.1"]\n',
      { baseDir },
    );
    assert.deepEqual(config.s2s.access, {
      deny_domains: ['spam.example', '*.bad.example'],
      allow_domains: [],
      deny_addresses: [],
      allow_addresses: ['10.0.0.0/8', '2001:db8::/32', '::ffff:192.0.2.1'],
    });
  });

  test('a host inherits foreign_access and overrides it key by key', () => {
    const config = parseConfig(
      'foreign_access: {default: deny, allow: [chat, presence]}\nhosts:\n  a.example: {}\n  b.example: {foreign_access: {allow: [chat, "urn:xmpp:ping"]}}\n',
      { baseDir },
    );
    const [a, b] = config.hosts;
    assert.deepEqual(a!.foreign_access, { default: 'deny', deny: [], allow: ['chat', 'presence'] });
    assert.deepEqual(b!.foreign_access, { default: 'deny', deny: [], allow: ['chat', 'urn:xmpp:ping'] });
  });
});

describe('host settings', () => {
  test('a host inherits the top-level settings and overrides them key by key', () => {
    const config = parseConfig(
      [
        'offline: {max_messages: 50}',
        'registration: {max_per_ip_per_hour: 2}',
        'strangers: {window: 10}',
        'modules_disabled: [version]',
        'hosts:',
        '  a.example: {registration: {enabled: true}, disco: {items: [conference.a.example]}}',
        '  b.example: {modules_disabled: [], offline: {max_messages: 7}, strangers: {max_messages: 0}}',
      ].join('\n'),
      { baseDir },
    );
    const [a, b] = config.hosts;
    assert.deepEqual(a!.registration, { enabled: true, max_per_ip_per_hour: 2, invite_days: 7, user_invites: 'contact' });
    assert.deepEqual(a!.offline, { max_messages: 50, max_bytes: 10485760, max_per_sender: 100 });
    assert.deepEqual(a!.modules_disabled, ['version']);
    assert.deepEqual(a!.disco, { items: ['conference.a.example'] });
    assert.deepEqual(b!.modules_disabled, []);
    assert.deepEqual(b!.offline, { max_messages: 7, max_bytes: 10485760, max_per_sender: 100 });
    assert.deepEqual(b!.registration, { enabled: false, max_per_ip_per_hour: 2, invite_days: 7, user_invites: 'contact' });
    assert.deepEqual(a!.strangers, { max_messages: 30, window: 10 });
    assert.deepEqual(b!.strangers, { max_messages: 0, window: 10 });
  });

  test('admins: a host adds its own to the top-level list; each must be an account', () => {
    const config = parseConfig(['admins: [Root@Example.COM]', 'hosts:', '  a.example: {admins: [boss@a.example, root@example.com]}', '  b.example: {}'].join('\n'), { baseDir });
    const [a, b] = config.hosts;
    assert.deepEqual(a!.admins, ['root@example.com', 'boss@a.example']);
    assert.deepEqual(b!.admins, ['root@example.com']);
    const error = problemsOf('admins: [example.com, root@example.com/phone]\nhosts: {a.example: {}}');
    assert.deepEqual(error.problems.map((problem) => problem.path), ['admins[0]', 'admins[1]']);
  });

  test('motd.text may be empty (none is sent) but not longer than 4000 characters', () => {
    const config = parseConfig(['motd: {text: "Welcome"}', 'hosts:', '  a.example: {motd: {text: ""}}', '  b.example: {}'].join('\n'), { baseDir });
    assert.deepEqual(config.hosts.map((host) => host.motd.text), ['', 'Welcome']);
    const error = problemsOf(`motd: {text: "${'x'.repeat(4001)}"}\nhosts: {a.example: {}}`);
    assert.deepEqual(error.problems.map((problem) => [problem.path, problem.message]), [['motd.text', 'expected at most 4000 characters, got 4001']]);
  });

  test('a bad host setting names the host and the key', () => {
    const error = problemsOf('hosts: {a.example: {roster: {max_items: 0}, modules_disabled: [nonsense]}}');
    assert.deepEqual(error.problems.map((problem) => problem.path).sort(), [
      'hosts["a.example"].modules_disabled[0]',
      'hosts["a.example"].roster.max_items',
    ]);
  });
});

describe('http settings', () => {
  test('plain HTTP only on loopback addresses or behind trusted proxies', () => {
    const error = problemsOf('hosts: {localhost: {}}\nhttp: {enabled: true, tls: false}');
    assert.deepEqual(error.problems.map((problem) => problem.path), ['http.tls']);
    assert.match(error.problems[0]!.message, /plain HTTP on \* would expose/);
    const loopback = parseConfig('hosts: {localhost: {}}\nhttp: {enabled: true, tls: false, addresses: ["127.0.0.1", "::1"]}', { baseDir });
    assert.equal(loopback.http.tls, false);
    const proxied = parseConfig('hosts: {localhost: {}}\nhttp: {tls: false, trusted_proxies: ["10.0.0.0/8"], public_url: "https://xmpp.example.com/"}', { baseDir });
    assert.deepEqual([proxied.http.trusted_proxies, proxied.http.public_url], [['10.0.0.0/8'], 'https://xmpp.example.com']);
  });

  test('the console: admins are accounts, prepared, and an enabled console names at least one', () => {
    const error = problemsOf('hosts: {localhost: {}}\nhttp: {console: {enabled: true}}');
    assert.deepEqual(error.problems.map((problem) => problem.path), ['http.console.admins']);
    const bad = problemsOf('hosts: {localhost: {}}\nhttp: {console: {admins: ["example.com", "a@example.com/r"]}}');
    assert.deepEqual(bad.problems.map((problem) => problem.path), ['http.console.admins[0]', 'http.console.admins[1]']);
    const config = parseConfig('hosts: {localhost: {}}\nhttp: {enabled: true, console: {enabled: true, admins: ["Admin@LocalHost"], idle_timeout: 600}}', { baseDir });
    assert.deepEqual([config.http.console.admins, config.http.console.idle_timeout], [['admin@localhost'], 600]);
  });

  test('URLs, paths and the upload service are checked, and a host overrides upload key by key', () => {
    const error = problemsOf('hosts: {localhost: {upload: {subdomain: "a.b"}}}\nhttp: {public_url: "ftp://x", websocket: {path: "ws", see_other_uri: "https://x"}}\nupload: {external_url: "https://files.example.com/?x"}');
    assert.deepEqual(error.problems.map((problem) => problem.path).sort(), ['hosts["localhost"].upload.subdomain', 'http.public_url', 'http.websocket.path', 'http.websocket.see_other_uri', 'upload.external_url']);
    const config = parseConfig('upload: {max_file_size: 1000}\nhosts: {localhost: {upload: {quota: 0}}, b.example: {upload: {enabled: false}}}', { baseDir });
    assert.deepEqual(config.hosts.map((host) => [host.upload.enabled, host.upload.max_file_size, host.upload.quota]), [[true, 1000, 0], [false, 1000, 1073741824]]);
  });
});

describe('defaultConfig', () => {
  test('uses data under the base directory and the single host localhost', () => {
    const config = defaultConfig('/opt/trellis');
    assert.equal(config.source, undefined);
    assert.equal(config.data_dir, '/opt/trellis/data');
    assert.equal(config.storage.sqlite_file, '/opt/trellis/data/trellis.sqlite');
    assert.deepEqual(config.hosts, [{ domain: 'localhost', ...DEFAULT_SETTINGS }]);
    assert.equal(config.c2s.require_tls, true);
    assert.ok(Object.isFrozen(config.c2s));
  });
});

describe('findConfigFile', () => {
  test('prefers the explicit path, resolved against cwd', () => {
    assert.equal(findConfigFile('conf/t.yaml', '/srv'), '/srv/conf/t.yaml');
    assert.equal(findConfigFile('/etc/trellis.yaml', '/srv'), '/etc/trellis.yaml');
  });

  test('falls back to trellis.yaml in cwd when it exists', () => {
    const dir = scratchDir();
    assert.equal(findConfigFile(undefined, dir), undefined);
    writeFileSync(path.join(dir, 'trellis.yaml'), 'hosts: {localhost: {}}\n');
    assert.equal(findConfigFile(undefined, dir), path.join(dir, 'trellis.yaml'));
  });
});
