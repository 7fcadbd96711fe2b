/**
 * The declarative description of trellis.yaml: every key with its type, default and a one-line
 * description. The validator (validate.ts) checks raw YAML against it, the documentation
 * generator (docgen.ts) renders it, and types.ts is the resolved shape it produces.
 */

import { createSecureContext } from 'node:tls';
import { parseJid, prepareDomain } from '../jid/jid.ts';
import { isLoopbackAddress, parseIpRange } from '../util/ip-range.ts';
import { parseResolverAddress } from '../net/resolver-address.ts';
import { nearest } from './suggest.ts';
import { parseLinkAddress, prepareLinkName } from './link-names.ts';
import { prepareJidPattern } from './jid-pattern.ts';
import { parseServiceUri } from '../util/service-uri.ts';
import { parseNextHop, preparePeeringKey } from './peering.ts';
import { CONTACT_ADDRESS_KINDS, DELEGATION_METHODS, FEATURE_GROUP_NAMES, FEDERATION_LEVELS, isFeatureGroup, MAM_DEFAULTS, MESSAGE_TYPES, MODULE_NAMES, MUC_ROOM_CREATION, PEERING_BLOCKS, PRESENCE_FOLDINGS, STANZA_KINDS, TLS_VERSIONS, type ContactAddressKind, type FederationLevel } from './types.ts';

export type Scalar = string | number | boolean;
export type DefaultValue = Scalar | readonly Scalar[];

interface NodeBase {
  /** one line, rendered into docs/configuration.md */
  description: string;
}

export interface StringNode extends NodeBase {
  kind: 'string';
  default?: string;
  /** an empty string is a value of its own (it turns something off), not a missing one */
  mayBeEmpty?: boolean;
  /** most characters the value may have */
  maxLength?: number;
  /** what the value must be, when not any text: `name` for messages, `prepare` returns its canonical form or throws the reason */
  format?: StringFormat;
}

export interface StringFormat {
  name: string;
  prepare: (value: string) => string;
}

export interface IntegerNode extends NodeBase {
  kind: 'integer';
  min: number;
  max: number;
  default?: number;
}

export interface BooleanNode extends NodeBase {
  kind: 'boolean';
  default?: boolean;
}

export interface EnumNode extends NodeBase {
  kind: 'enum';
  values: readonly string[];
  default?: string;
}

export interface ListNode extends NodeBase {
  kind: 'list';
  item: StringNode | EnumNode;
  /** fewest items allowed */
  minItems: number;
  /** whether the same item may appear twice */
  unique: boolean;
  default?: readonly Scalar[];
}

export interface ObjectNode extends NodeBase {
  kind: 'object';
  fields: Readonly<Record<string, SchemaNode>>;
  /** keys that must be written whenever the object itself is */
  required?: readonly string[];
  /** when true the whole section may be left out and resolves to undefined instead of its defaults */
  optional?: boolean;
  /** rules spanning several keys, run once every key of the object is valid; each problem names one key */
  check?: (value: Readonly<Record<string, unknown>>) => readonly KeyProblem[];
  /** keys that may be written only when the enum key `key` has one of the listed values (a link's protocol, say) */
  onlyWhen?: { key: string; fields: Readonly<Record<string, readonly string[]>> };
}

export interface KeyProblem {
  key: string;
  message: string;
}

/** a mapping whose keys are chosen by the operator (domains), each value following one schema */
export interface MapNode extends NodeBase {
  kind: 'map';
  /** what a key is, for messages and documentation: `domain` */
  keyName: string;
  /** the canonical form of a written key; throws when the key is not valid. Keys equal once prepared are duplicates. */
  prepareKey: (key: string) => string;
  value: ObjectNode;
  minEntries: number;
}

export type SchemaNode = StringNode | IntegerNode | BooleanNode | EnumNode | ListNode | ObjectNode | MapNode;

const KIB = 1024;
const MIB = 1024 * KIB;

function listener(description: string, enabled: boolean, port: number, addresses: readonly string[] = ['*']): ObjectNode {
  return {
    kind: 'object',
    description,
    fields: {
      enabled: { kind: 'boolean', default: enabled, description: 'whether to accept connections on this listener' },
      addresses: {
        kind: 'list',
        item: { kind: 'string', description: 'an IP address to bind, or "*" for all interfaces' },
        minItems: 1,
        unique: true,
        default: addresses,
        description: 'addresses to bind; "*" means every interface (IPv4 and IPv6)',
      },
      port: { kind: 'integer', min: 0, max: 65535, default: port, description: 'TCP port; 0 picks any free port' },
    },
  };
}

function tlsFiles(description: string): ObjectNode {
  return {
    kind: 'object',
    description,
    optional: true,
    required: ['certificate', 'key'],
    fields: {
      certificate: {
        kind: 'string',
        description: 'PEM certificate chain file; relative to the config file\'s directory unless absolute',
      },
      key: { kind: 'string', description: 'PEM private key file; relative to the config file\'s directory unless absolute' },
    },
  };
}

/**
 * The TLS 1.3 suites, then the TLS 1.2 suites of Mozilla's "intermediate" profile
 * (https://ssl-config.mozilla.org/guidelines/5.7.json) without its DHE ones: ECDHE only, AEAD
 * only (AES-GCM, ChaCha20-Poly1305), so no CBC (LUCKY13) and no static RSA key exchange.
 */
export const INTERMEDIATE_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Node hands TLS_* names to OpenSSL as TLS 1.3 suites and everything else as the TLS 1.2 cipher list. */
function splitCiphers(ciphers: string): { tls13: string[]; tls12: string[] } {
  const names = ciphers.split(':').filter((name) => name !== '');
  return { tls13: names.filter((name) => name.startsWith('TLS_')), tls12: names.filter((name) => !name.startsWith('TLS_')) };
}

const cipherList: StringFormat = {
  name: 'OpenSSL cipher list',
  prepare(ciphers) {
    try {
      createSecureContext({ ciphers });
    } catch (error) {
      throw new Error(`OpenSSL refuses it (${(error as Error).message}); names are OpenSSL's, separated by ":", such as ECDHE-ECDSA-AES128-GCM-SHA256 or TLS_AES_128_GCM_SHA256`);
    }
    return ciphers;
  },
};

const ecdhGroups: StringFormat = {
  name: 'list of key exchange groups',
  prepare(groups) {
    if (groups === 'auto') return groups;
    for (const group of groups.split(':')) {
      try {
        createSecureContext({ ecdhCurve: group });
      } catch {
        throw new Error(`OpenSSL ${process.versions.openssl} does not know the group ${JSON.stringify(group)}; write names such as X25519:prime256v1:secp384r1 separated by ":", or "auto"`);
      }
    }
    return groups;
  },
};

/** Versions in order, and a cipher list that leaves each enabled version something to use (Node would silently turn the version off). */
function checkTlsSettings(settings: Readonly<Record<string, unknown>>): KeyProblem[] {
  const min = TLS_VERSIONS.indexOf(settings.min_version as (typeof TLS_VERSIONS)[number]);
  const max = TLS_VERSIONS.indexOf(settings.max_version as (typeof TLS_VERSIONS)[number]);
  if (max < min) return [{ key: 'max_version', message: `${String(settings.max_version)} is older than min_version ${String(settings.min_version)}` }];
  const { tls13, tls12 } = splitCiphers(settings.ciphers as string);
  const problems: KeyProblem[] = [];
  if (settings.max_version === 'TLSv1.3' && tls13.length === 0) {
    problems.push({ key: 'ciphers', message: 'names no TLS 1.3 suite (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256), which would turn TLS 1.3 off; add them, or set max_version to TLSv1.2' });
  }
  if (settings.min_version === 'TLSv1.2' && !opensslMatchesAny(tls12.join(':'))) {
    problems.push({ key: 'ciphers', message: 'names no TLS 1.2 cipher suite OpenSSL knows, which would turn TLS 1.2 off; add some, or set min_version to TLSv1.3' });
  }
  return problems;
}

function opensslMatchesAny(ciphers: string): boolean {
  if (ciphers === '') return false;
  try {
    createSecureContext({ ciphers });
    return true;
  } catch {
    return false;
  }
}

const tlsSettingsSchema: ObjectNode = {
  kind: 'object',
  description: 'protocol versions, ciphers and key exchange of every TLS connection, listeners and outgoing alike; the defaults follow Mozilla\'s "intermediate" profile without CBC or DHE, and renegotiation is always refused (docs/security.md). Applied at start',
  fields: {
    min_version: {
      kind: 'enum',
      values: TLS_VERSIONS,
      default: 'TLSv1.2',
      description: 'oldest TLS version accepted or offered; TLS 1.0 and 1.1 are not available (RFC 8996)',
    },
    max_version: { kind: 'enum', values: TLS_VERSIONS, default: 'TLSv1.3', description: 'newest TLS version accepted or offered' },
    ciphers: {
      kind: 'string',
      format: cipherList,
      default: INTERMEDIATE_CIPHERS,
      description: 'OpenSSL cipher list, ":"-separated, in preference order: TLS_* names are the TLS 1.3 suites, the rest the TLS 1.2 ones; the default is ECDHE with AES-GCM or ChaCha20-Poly1305 only',
    },
    ecdh_curves: {
      kind: 'string',
      format: ecdhGroups,
      default: 'auto',
      description: 'key exchange groups, ":"-separated (X25519:prime256v1:secp384r1), or "auto" for OpenSSL\'s own list, which with the OpenSSL 3.5 of Node 24 starts with the post-quantum hybrid X25519MLKEM768',
    },
    prefer_server_ciphers: {
      kind: 'boolean',
      default: true,
      description: 'choose the cipher by the order of ciphers rather than the client\'s order',
    },
  },
  check: checkTlsSettings,
};

function checkPostgresUrl(storage: Readonly<Record<string, unknown>>): KeyProblem[] {
  const url = storage.postgres_url;
  if (url === undefined) {
    return storage.driver === 'postgres' ? [{ key: 'postgres_url', message: 'required when storage.driver is "postgres"' }] : [];
  }
  if (typeof url === 'string' && /^postgres(ql)?:\/\//.test(url)) return [];
  return [{ key: 'postgres_url', message: `expected a postgres:// or postgresql:// URL, got ${JSON.stringify(url)}` }];
}


const nodeName: StringFormat = {
  name: 'node name (letters, digits, ".", "-", "_"; at most 64)',
  prepare(value) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw new Error('use letters, digits, ".", "-" and "_", at most 64 characters');
    return value;
  },
};

const redisUrl: StringFormat = {
  name: 'redis:// or rediss:// URL',
  prepare(value) {
    if (!/^rediss?:\/\/[^\s]+$/.test(value)) throw new Error('expected redis://host:port[/db] or rediss://');
    return value;
  },
};

function checkClusterTimings(cluster: Readonly<Record<string, unknown>>): KeyProblem[] {
  const heartbeat = cluster.heartbeat_interval_ms as number;
  const lease = cluster.lease_ms as number;
  if (lease >= 3 * heartbeat) return [];
  return [{ key: 'lease_ms', message: `must be at least three heartbeats (3 × heartbeat_interval_ms = ${3 * heartbeat}), got ${lease}, or one late heartbeat would declare a live node dead` }];
}

/** docs/cluster.md: several nodes serving the same hosts, sharing PostgreSQL and Redis. */
const clusterSchema: ObjectNode = {
  kind: 'object',
  optional: true,
  description: 'several Trellis nodes serving the same hosts as one server (docs/cluster.md); needs storage.driver: postgres. Absent: a single node, no Redis',
  required: ['node', 'redis_url'],
  fields: {
    node: { kind: 'string', format: nodeName, description: "this node's name, unique in the cluster and kept across restarts" },
    redis_url: { kind: 'string', format: redisUrl, description: 'the Redis server holding membership, the session registry, leases and the nodes\' inboxes: redis://[:password@]host:port[/db]' },
    key_prefix: { kind: 'string', format: nodeName, default: 'trellis', description: 'prefix of every Redis key, so that several clusters may share one Redis' },
    heartbeat_interval_ms: { kind: 'integer', min: 100, max: 60_000, default: 1000, description: 'milliseconds between two renewals of this node\'s registration' },
    lease_ms: { kind: 'integer', min: 300, max: 600_000, default: 5000, description: 'milliseconds a registration lasts without renewal: a node silent this long is dead, and a node that could not renew within it stops serving (fences itself). At least three heartbeats' },
    inbox_max_entries: { kind: 'integer', min: 100, max: 10_000_000, default: 100_000, description: 'stanzas waiting in one node\'s inbox; beyond it a stanza for that node is treated as undeliverable there (a message goes to offline storage or bounces)' },
  },
  check: checkClusterTimings,
};

/** A cluster keeps its durable data where every node reaches it (docs/cluster.md). */
function checkClusterStorage(config: Readonly<Record<string, unknown>>): KeyProblem[] {
  if (config.cluster === undefined || (config.storage as { driver: string }).driver === 'postgres') return [];
  return [{ key: 'cluster', message: 'needs storage.driver: postgres, where every node reads and writes the same accounts, rosters and offline messages' }];
}

/**
 * The IM feature settings (HostSettings). At the top level they carry defaults; in a host
 * section (`inherited`) every key is optional and falls back to the top-level value.
 */
function hostSettings(inherited: boolean): Record<string, SchemaNode> {
  const orDefault = <T>(value: T): { default?: T } => (inherited ? {} : { default: value });
  const section = (description: string, fields: Record<string, SchemaNode>): ObjectNode => ({
    kind: 'object',
    description,
    fields,
    ...(inherited ? { optional: true } : {}),
  });
  return {
    modules_disabled: {
      kind: 'list',
      item: { kind: 'enum', values: MODULE_NAMES, description: 'a feature module' },
      minItems: 0,
      unique: true,
      ...orDefault<readonly string[]>([]),
      description: 'features not to run (all run by default)',
    },
    roster: section('rosters (RFC 6121 section 2)', {
      max_items: { kind: 'integer', min: 1, max: 100_000, ...orDefault(1000), description: 'most items in one roster; adding beyond it is refused with not-allowed' },
    }),
    offline: section('messages stored for users who are offline', {
      max_messages: { kind: 'integer', min: 0, max: 1_000_000, ...orDefault(500), description: 'stored messages per user; when full, new ones bounce to the sender with service-unavailable; 0 stores none' },
      max_bytes: { kind: 'integer', min: 1024, max: 1024 * MIB, ...orDefault(10 * MIB), description: 'bytes of stored messages per user; beyond it new ones bounce the same way' },
      max_per_sender: { kind: 'integer', min: 1, max: 1_000_000, ...orDefault(100), description: 'stored messages from one sender (bare JID) per user, so that nobody can fill another user\'s mailbox and push out the messages of others; beyond it that sender gets service-unavailable' },
    }),
    strangers: section('messages from strangers: senders the recipient has no roster item for (docs/security.md)', {
      max_messages: { kind: 'integer', min: 0, max: 1_000_000, ...orDefault(30), description: 'chat and normal messages one sender (bare JID) may send within the window to this host\'s users who do not have the sender in their roster, all such users together; beyond it a message bounces with policy-violation and is neither delivered nor stored; 0 turns the limit off' },
      window: { kind: 'integer', min: 1, max: 86_400, ...orDefault(60), description: 'seconds of the sliding window max_messages counts over' },
    }),
    registration: section('in-band registration (XEP-0077)', {
      enabled: { kind: 'boolean', ...orDefault(false), description: 'let anyone create an account from a client' },
      max_per_ip_per_hour: { kind: 'integer', min: 1, max: 100_000, ...orDefault(5), description: 'accounts one IP address may register per hour' },
      invite_days: { kind: 'integer', min: 1, max: 365, ...orDefault(7), description: 'days an invitation to register (trellis invite, or the create-account command) stays good; an invitation registers one account, open registration or not (docs/admin-commands.md)' },
      user_invites: { kind: 'enum', values: ['off', 'contact', 'account'], ...orDefault('contact'), description: "what an account's own invitations (the urn:xmpp:invite#invite command, XEP-0379) offer: off, none; contact, the invitee becomes a contact; account, the invitee may also register here, open registration or not (docs/admin-commands.md)" },
    }),
    version: section('software version (XEP-0092)', {
      hidden: { kind: 'boolean', ...orDefault(false), description: 'answer version requests with service-unavailable' },
    }),
    disco: section('service discovery (XEP-0030)', {
      items: {
        kind: 'list',
        item: { kind: 'string', description: 'a JID' },
        minItems: 0,
        unique: true,
        ...orDefault<readonly string[]>([]),
        description: "extra items listed in the host's disco#items, such as services on other domains",
      },
    }),
    motd: section('the message of the day (docs/admin-commands.md)', {
      text: { kind: 'string', mayBeEmpty: true, maxLength: 4000, ...orDefault(''), description: 'a message every client of the host gets from the host each time it comes online (its initial presence), such as a maintenance notice; empty sends none' },
    }),
    admins: {
      kind: 'list',
      item: { kind: 'string', format: bareJid, description: bareJid.name },
      minItems: 0,
      unique: true,
      ...orDefault<readonly string[]>([]),
      description: "the accounts (\"admin@example.com\") that may run the host's administration commands from an XMPP client: add, delete and change accounts, end sessions, list and count users, announce (XEP-0133 over ad-hoc commands, XEP-0050; docs/admin-commands.md); they also receive users' spam and abuse reports (XEP-0377); a host's list adds to the top-level one",
    },
    contact_addresses: section('how to reach the people running the host, published in its disco#info for clients and other servers (XEP-0157); each kind is a list of URIs such as mailto:abuse@example.com or xmpp:admin@example.com', Object.fromEntries(
      CONTACT_ADDRESS_KINDS.map((kind): [string, SchemaNode] => [kind, {
        kind: 'list',
        item: { kind: 'string', format: addressUri, description: 'a URI' },
        minItems: 0,
        unique: true,
        ...orDefault<readonly string[]>([]),
        description: `${CONTACT_ADDRESS_DESCRIPTIONS[kind]}, published as ${kind}-addresses`,
      }]),
    )),
    foreign_access: {
      ...section('what users and services on other servers may send to this host (docs/policy.md)', {
        default: { kind: 'enum', values: ['allow', 'deny'], ...orDefault('allow'), description: 'the decision for a stanza no entry matches' },
        deny: foreignAccessList('feature groups or namespaces refused from other servers', orDefault<readonly string[]>([])),
        allow: foreignAccessList('feature groups or namespaces accepted from other servers; overrides a less specific deny', orDefault<readonly string[]>([])),
      }),
      check: checkForeignAccessLists,
    },
    muc: section('the group-chat service (XEP-0045) of the host, at <subdomain>.<host> (docs/muc.md)', {
      enabled: { kind: 'boolean', ...orDefault(true), description: 'serve group chat at <subdomain>.<host>, listed in the host\'s disco#items' },
      subdomain: { kind: 'string', format: subdomainLabel, ...orDefault('conference'), description: 'the first label of the service\'s domain: "conference" serves conference.<host>' },
      name: { kind: 'string', ...orDefault('Chatrooms'), description: 'the service\'s name in service discovery' },
      room_creation: { kind: 'enum', values: MUC_ROOM_CREATION, ...orDefault('local'), description: 'who may create rooms: local (users of any host of this server), host (users of this host only) or anyone (users of other servers too); others get not-allowed' },
      max_rooms: { kind: 'integer', min: 1, max: 10_000_000, ...orDefault(10_000), description: 'rooms the service holds at once, persistent and temporary; creating one more is refused with resource-constraint' },
      max_occupants: { kind: 'integer', min: 1, max: 1_000_000, ...orDefault(500), description: 'occupants one room holds at most; a room\'s owner may set a lower limit. One more is refused with service-unavailable' },
      history_length: { kind: 'integer', min: 0, max: 10_000, ...orDefault(20), description: 'messages a new room keeps for people who join later (XEP-0045 section 7.2.15); the owner may change it up to max_history' },
      max_history: { kind: 'integer', min: 0, max: 10_000, ...orDefault(100), description: 'the most messages any room keeps for people who join later' },
      max_affiliations: { kind: 'integer', min: 1, max: 1_000_000, ...orDefault(10_000), description: 'owners, admins, members and outcasts one room keeps; one more is refused with resource-constraint' },
    }),
    pep: section('personal eventing (XEP-0163) on every account: avatars, nicknames, bookmarks, OMEMO keys (docs/pubsub.md)', {
      max_nodes: { kind: 'integer', min: 1, max: 100_000, ...orDefault(256), description: 'nodes one account keeps; publishing to one more is refused with not-allowed' },
      max_items: { kind: 'integer', min: 1, max: 100_000, ...orDefault(1000), description: 'items one node keeps at most (what "max" in publish options means); the oldest go first' },
      max_item_bytes: { kind: 'integer', min: 1024, max: 64 * 1024 * 1024, ...orDefault(128 * 1024), description: 'bytes of one published item; a larger one is refused with not-acceptable (payload-too-big)' },
    }),
    pubsub: section('the publish-subscribe service (XEP-0060) of the host, at <subdomain>.<host> (docs/pubsub.md)', {
      enabled: { kind: 'boolean', ...orDefault(true), description: 'serve publish-subscribe at <subdomain>.<host>, listed in the host\'s disco#items' },
      subdomain: { kind: 'string', format: subdomainLabel, ...orDefault('pubsub'), description: 'the first label of the service\'s domain: "pubsub" serves pubsub.<host>' },
      name: { kind: 'string', ...orDefault('Publish-Subscribe'), description: 'the service\'s name in service discovery' },
      node_creation: { kind: 'enum', values: MUC_ROOM_CREATION, ...orDefault('local'), description: 'who may create nodes: local (users of any host of this server), host (users of this host only) or anyone (users of other servers too); others get forbidden' },
      max_nodes: { kind: 'integer', min: 1, max: 10_000_000, ...orDefault(10_000), description: 'nodes the service holds; creating one more is refused with not-allowed' },
      max_items: { kind: 'integer', min: 1, max: 100_000, ...orDefault(1000), description: 'items one node keeps at most; the oldest go first' },
      max_item_bytes: { kind: 'integer', min: 1024, max: 64 * 1024 * 1024, ...orDefault(128 * 1024), description: 'bytes of one published item; a larger one is refused with not-acceptable (payload-too-big)' },
      max_subscriptions: { kind: 'integer', min: 1, max: 1_000_000, ...orDefault(10_000), description: 'subscriptions one node keeps; one more is refused with not-allowed' },
    }),
    mam: section('message archives (XEP-0313) of users and group-chat rooms (docs/archive.md)', {
      default: { kind: 'enum', values: MAM_DEFAULTS, ...orDefault('always'), description: 'which messages a user\'s archive keeps until the user chooses (XEP-0441): always (all), roster (those with contacts in the user\'s roster) or never' },
      max_age_days: { kind: 'integer', min: 0, max: 36_500, ...orDefault(365), description: 'days a message stays in an archive; older ones are removed at the next retention pass. 0 keeps them until max_messages pushes them out' },
      max_messages: { kind: 'integer', min: 1, max: 100_000_000, ...orDefault(100_000), description: 'messages one archive (a user\'s or a room\'s) keeps; beyond it the oldest are removed at the next retention pass' },
      page_size: { kind: 'integer', min: 1, max: 1000, ...orDefault(50), description: 'results in one page of a query that asks for no number (XEP-0059 max)' },
      max_page_size: { kind: 'integer', min: 1, max: 1000, ...orDefault(250), description: 'the most results one page holds, whatever the client asks for; a page also stops at 256 KiB of results' },
      retention_interval: { kind: 'integer', min: 10, max: 86_400, ...orDefault(600), description: 'seconds between retention passes of a host, each run when a message is archived' },
      rooms: { kind: 'boolean', ...orDefault(true), description: 'group-chat rooms of the host\'s service keep an archive of their messages and subjects, which those allowed to enter may query' },
    }),
    push: section('push notifications to the app servers of users\' devices (XEP-0357; docs/push.md). A notification always holds the count of messages the user has not seen; the rest only as set here, since the app server is a third party', {
      include_sender: { kind: 'boolean', ...orDefault(false), description: 'tell the app server who sent the last message (its bare JID)' },
      include_body: { kind: 'boolean', ...orDefault(false), description: 'tell the app server the text of the last message' },
      max_registrations: { kind: 'integer', min: 1, max: 1000, ...orDefault(10), description: 'app servers one account may register; one more is refused with resource-constraint' },
    }),
    upload: section('HTTP file upload (XEP-0363) of the host, at <subdomain>.<host>, served by the http listener (docs/web.md)', {
      enabled: { kind: 'boolean', ...orDefault(true), description: 'serve file upload at <subdomain>.<host>, listed in the host\'s disco#items, while http.enabled is true' },
      subdomain: { kind: 'string', format: subdomainLabel, ...orDefault('upload'), description: 'the first label of the service\'s domain: "upload" serves upload.<host>' },
      name: { kind: 'string', ...orDefault('HTTP File Upload'), description: 'the service\'s name in service discovery' },
      max_file_size: { kind: 'integer', min: 1, max: 1024 * 1024 * MIB, ...orDefault(100 * MIB), description: 'largest file in bytes; a bigger request is refused with file-too-large, which tells the client this number' },
      quota: { kind: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER, ...orDefault(1024 * MIB), description: 'bytes of unexpired files one user may hold; a slot beyond it is refused with resource-constraint; 0 turns the quota off' },
      expire_after: { kind: 'integer', min: 1, max: 10 * 366 * 86_400, ...orDefault(7 * 86_400), description: 'seconds a file is kept after its upload; then it is deleted and its URL answers 404' },
      slot_lifetime: { kind: 'integer', min: 1, max: 86_400, ...orDefault(300), description: 'seconds a slot\'s signed PUT URL stays valid' },
      directory: { kind: 'string', ...orDefault('uploads'), description: 'where files are stored, one folder per service; relative to data_dir unless absolute' },
      external_url: { kind: 'string', format: httpUrl, description: 'when set, GET URLs are <external_url>/<service>/<id>/<name>: another web server serves directory (docs/web.md); uploads still come to the http listener' },
    }),
    external_services: section('STUN and TURN servers for calls, announced to the host\'s users with external service discovery (XEP-0215), TURN ones with credentials made per request (docs/clients.md)', {
      services: {
        kind: 'list',
        item: { kind: 'string', format: stunTurnUri, description: 'a STUN or TURN URI' },
        minItems: 0,
        unique: true,
        ...orDefault<readonly string[]>([]),
        description: 'the servers, as RFC 7064/7065 URIs: stun:turn.example.com, turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349?transport=tcp; empty announces none',
      },
      secret: { kind: 'string', description: 'the secret shared with the TURN server (coturn: use-auth-secret with static-auth-secret): each request gets a user name "<expiry>:<user JID>" and the password base64(HMAC-SHA1(secret, user name)); without it TURN servers are announced without credentials' },
      credential_lifetime: { kind: 'integer', min: 60, max: 7 * 86_400, ...orDefault(86_400), description: 'seconds TURN credentials stay valid' },
    }),
  };
}

/** A STUN or TURN URI (RFC 7064, RFC 7065). */
const stunTurnUri: StringFormat = {
  name: 'STUN or TURN URI',
  prepare(value) {
    parseServiceUri(value);
    return value;
  },
};

/** An absolute http:// or https:// URL without a query or fragment; a trailing slash is dropped. */
const httpUrl: StringFormat = {
  name: 'http(s) URL',
  prepare(value) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error('expected an absolute URL such as https://xmpp.example.com');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('expected an https:// or http:// URL');
    if (url.search !== '' || url.hash !== '') throw new Error('expected a URL without ? or #');
    return url.href.replace(/\/$/, '');
  },
};

/** A WebSocket URL (RFC 6455 section 3). */
const webSocketUrl: StringFormat = {
  name: 'WebSocket URL',
  prepare(value) {
    if (!/^wss?:\/\/[^\s/?#]+/.test(value)) throw new Error('expected a wss:// (or ws://) URL such as wss://xmpp.example.com/xmpp-websocket');
    return value;
  },
};

/** A request path: "/" and then no query, fragment or white space. */
const urlPath: StringFormat = {
  name: 'URL path',
  prepare(value) {
    if (!/^\/[^\s?#]*$/.test(value)) throw new Error('expected a path starting with "/", such as /xmpp-websocket');
    return value;
  },
};


/** What each kind of contact address is for (XEP-0157 section 4). */
const CONTACT_ADDRESS_DESCRIPTIONS: Record<ContactAddressKind, string> = {
  abuse: 'where to report abuse (spam, harassment) from this host',
  admin: 'the administrators',
  feedback: 'where to send feedback about the service',
  sales: 'sales enquiries',
  security: 'where to report security issues',
  status: 'where the service posts its status (outages, maintenance)',
  support: 'help for the host\'s users',
};

/** A URI: a scheme, a colon and something after it (RFC 3986 section 3), such as mailto:, xmpp: or https:. */
const addressUri: StringFormat = {
  name: 'URI',
  prepare(uri) {
    if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(uri)) throw new Error('expected a URI with its scheme, such as mailto:abuse@example.com or xmpp:admin@example.com');
    return uri;
  },
};

/** One DNS label (letters, digits, hyphens), prepared like a domain. */
const subdomainLabel: StringFormat = {
  name: 'domain label',
  prepare(label) {
    const prepared = prepareDomain(label);
    if (prepared.includes('.')) throw new Error('expected one label without dots, such as "conference"');
    return prepared;
  },
};

/** A feature group name (src/policy/foreign-groups.ts) or a namespace URI, which always contains a colon. */
const foreignAccessEntry: StringFormat = {
  name: 'feature group or namespace',
  prepare(entry) {
    if (isFeatureGroup(entry) || entry.includes(':')) return entry;
    const suggestion = nearest(entry, FEATURE_GROUP_NAMES);
    const hint = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
    throw new Error(`expected one of ${FEATURE_GROUP_NAMES.join(', ')}, or a namespace URI such as urn:xmpp:ping${hint}`);
  },
};

function foreignAccessList(description: string, defaults: { default?: readonly string[] }): ListNode {
  return {
    kind: 'list',
    item: { kind: 'string', format: foreignAccessEntry, description: 'a feature group or a namespace' },
    minItems: 0,
    unique: true,
    ...defaults,
    description,
  };
}

/** An entry in both lists would always be denied (deny wins a tie): most likely a mistake. */
function checkForeignAccessLists(rules: Readonly<Record<string, unknown>>): KeyProblem[] {
  const deny = new Set((rules.deny as string[] | undefined) ?? []);
  const both = ((rules.allow as string[] | undefined) ?? []).filter((entry) => deny.has(entry));
  return both.map((entry) => ({ key: 'allow', message: `"${entry}" is also in deny; an entry belongs in one list` }));
}

/** Parser limits for one kind of stream (client or server). */
function parserLimits(description: string, maxStanzaBytes: number): ObjectNode {
  return {
    kind: 'object',
    description,
    fields: {
      max_stanza_bytes: { kind: 'integer', min: KIB, max: 64 * MIB, default: maxStanzaBytes, description: 'largest stanza in bytes' },
      max_depth: { kind: 'integer', min: 1, max: 1024, default: 64, description: 'deepest element nesting inside a stanza (stream root not counted)' },
      max_attributes: { kind: 'integer', min: 1, max: 4096, default: 64, description: 'most attributes on one element' },
      max_attribute_bytes: { kind: 'integer', min: 64, max: 64 * MIB, default: 8 * KIB, description: 'longest attribute value in bytes' },
      max_text_bytes: { kind: 'integer', min: KIB, max: 64 * MIB, default: maxStanzaBytes, description: 'longest single text node in bytes' },
    },
  };
}

function readRate(description: string, bytesPerSecond: number, burstBytes: number, stanzasPerSecond: number, burstStanzas: number): ObjectNode {
  return {
    kind: 'object',
    description,
    fields: {
      bytes_per_second: { kind: 'integer', min: 256, max: 1024 * MIB, default: bytesPerSecond, description: 'sustained bytes per second' },
      burst_bytes: { kind: 'integer', min: KIB, max: 1024 * MIB, default: burstBytes, description: 'bytes that may arrive at once after a quiet period; at least the largest stanza is wise' },
      stanzas_per_second: { kind: 'integer', min: 1, max: 10_000_000, default: stanzasPerSecond, description: 'sustained stanzas (and other top-level elements) per second: small stanzas cost more to route than their bytes show' },
      burst_stanzas: { kind: 'integer', min: 1, max: 10_000_000, default: burstStanzas, description: 'stanzas that may arrive at once after a quiet period (a client logging in sends a few dozen)' },
    },
  };
}

/** A remote-domain pattern: a domain, or "*." followed by a domain for all its subdomains. */
export function prepareDomainPattern(pattern: string): string {
  return pattern.startsWith('*.') ? `*.${prepareDomain(pattern.slice(2))}` : prepareDomain(pattern);
}

const federationLevel = (description: string, defaultLevel?: FederationLevel): EnumNode => ({
  kind: 'enum',
  values: FEDERATION_LEVELS,
  ...(defaultLevel ? { default: defaultLevel } : {}),
  description,
});

const domainEntry: StringFormat = { name: 'domain or *.domain pattern', prepare: prepareDomainPattern };
const domainName: StringFormat = { name: 'domain name', prepare: prepareDomain };
/** A user's bare JID (RFC 7622), in its prepared form. */
const bareJid: StringFormat = {
  name: 'bare JID',
  prepare(value) {
    const jid = parseJid(value);
    if (jid.local === undefined || jid.resource !== undefined) throw new Error('expected an account as user@domain');
    return jid.toString();
  },
};

/** A format whose values are kept as written once `parse` accepts them (it throws the reason otherwise). */
function checkedBy(name: string, parse: (entry: string) => unknown): StringFormat {
  return {
    name,
    prepare(entry) {
      parse(entry);
      return entry;
    },
  };
}

const addressEntry = checkedBy('IP address or CIDR range', parseIpRange);

function accessList(format: StringFormat, description: string): ListNode {
  return { kind: 'list', item: { kind: 'string', format, description: format.name }, minItems: 0, unique: true, default: [], description };
}

const seconds = (min: number, max: number, value: number, description: string): IntegerNode => ({ kind: 'integer', min, max, default: value, description });

const count = (max: number, value: number, description: string): IntegerNode => ({ kind: 'integer', min: 0, max, default: value, description });

function caFiles(description: string): ListNode {
  return { kind: 'list', item: { kind: 'string', description: 'a PEM file' }, minItems: 0, unique: true, default: [], description };
}

const resolverAddress = checkedBy('resolver address', parseResolverAddress);

/** Proofs that a host may speak for a domain (docs/federation.md, src/delegation). */
const delegationSchema: ObjectNode = {
  kind: 'object',
  description: 'proofs that a remote host may speak for a domain its certificate does not name: a DNSSEC-signed SRV record pointing at a name it does prove, DANE TLSA records (RFC 7673) and POSH (RFC 7711). Checked, in that order after the certificate, when a peer asks for a further domain pair on a connection already open without a dialback key (docs/federation.md, "More domain pairs on one connection")',
  fields: {
    methods: {
      kind: 'list',
      item: { kind: 'enum', values: DELEGATION_METHODS, description: 'a proof method' },
      minItems: 0,
      unique: true,
      default: [...DELEGATION_METHODS],
      description: 'proof methods used besides a certificate that names the domain itself (always on): dnssec_srv (the SRV target is a reference identifier when the SRV answer is signed), dane (TLSA records of the SRV target), posh (certificate fingerprints published over HTTPS), host_activation (each domain signs for the pair with its own key, on host-named streams between Trellis hosts: docs/protocols/host-activation.md); dnssec_srv and dane also need resolvers',
    },
    resolvers: {
      kind: 'list',
      item: { kind: 'string', format: resolverAddress, description: 'an IP address, "ip:port" or "[ipv6]:port"' },
      minItems: 0,
      unique: true,
      default: [],
      description: "validating resolvers whose AD bit (the answer passed DNSSEC validation) is believed, best on this machine or over a trusted network (RFC 6840 section 5.7); empty turns dnssec_srv and dane off: the system's resolv.conf is never trusted for this",
    },
    resolver_timeout: seconds(1, 60, 3, 'seconds to wait for one answer from a validating resolver; each is asked at most twice, over TCP as well when an answer is truncated'),
    accept_unsigned_srv: accessList(domainEntry, 'remote domains (exact, or "*.example.com" for every subdomain) whose SRV record counts as a delegation without DNSSEC (asked of the resolvers above; such a pair reaches only the encrypted level); none by default, since an unsigned SRV answer can be forged'),
    posh: {
      kind: 'object',
      description: 'POSH (RFC 7711): certificate fingerprints a domain publishes at https://<domain>/.well-known/posh/xmpp-server.json',
      fields: {
        ca_files: caFiles("PEM files of CA certificates trusted for the HTTPS servers that publish POSH documents; relative to the config file's directory"),
        use_system_ca: { kind: 'boolean', default: true, description: "also trust Node's bundled CA certificates for those HTTPS servers" },
        timeout: seconds(1, 120, 10, 'seconds one POSH lookup may take, redirects and a reference included'),
        max_bytes: { kind: 'integer', min: KIB, max: MIB, default: 64 * KIB, description: 'largest POSH document accepted, in bytes' },
        cache_entries: count(1_000_000, 10_000, 'POSH documents kept at once; the oldest goes first; 0 keeps none'),
        max_cache_time: seconds(60, 30 * 86400, 86400, 'longest a POSH document is kept, in seconds, whatever its expires says; a document without expires is not kept'),
      },
    },
  },
};

const nextHop = checkedBy('next hop', parseNextHop);
const linkName: StringFormat = { name: 'link name', prepare: prepareLinkName };
const peeringPattern: StringFormat = { name: 'domain pattern', prepare: preparePeeringKey };

const jidPattern: StringFormat = { name: 'JID pattern', prepare: prepareJidPattern };
const enumList = (values: readonly string[], description: string): ListNode => ({ kind: 'list', item: { kind: 'enum', values, description: 'one of them' }, minItems: 0, unique: true, description });
const jidPatterns = (description: string): ListNode => ({ kind: 'list', item: { kind: 'string', format: jidPattern, description: 'a JID pattern' }, minItems: 0, unique: true, description });

/**
 * The checks and actions of a peering rule (docs/peering.md, "Checks and actions"); none has a
 * default, so that for each the most specific rule that writes it decides.
 */
const peeringChecksFields: Record<string, SchemaNode> = {
  require_tls: { kind: 'boolean', description: 'pairs with these domains must be on TLS-protected connections, both ways; stanzas wait for TLS or bounce' },
  require_strong_auth: { kind: 'boolean', description: 'pairs with these domains must be proven with SASL EXTERNAL and a certificate that chains to a trusted CA, both ways (dialback is refused)' },
  stanza_kinds: enumList(STANZA_KINDS, 'only these stanza kinds cross to or from these domains; others are refused'),
  block: enumList(PEERING_BLOCKS, 'traffic refused to or from these domains: file-transfer (XEP-0096, 0065, 0047, 0234, 0363, 0066), muc (XEP-0045, 0249), one-to-one (chat and normal messages: group chat only), encrypted (OMEMO, OpenPGP, XEP-0027, EME)'),
  fold_presence: { kind: 'enum', values: PRESENCE_FOLDINGS, description: 'presence reduced before it crosses: available (available or unavailable), away (also away; xa becomes away), away-dnd (also dnd); status, priority, caps and every extension removed; off leaves it whole' },
  strip_elements: { kind: 'list', item: { kind: 'string', description: 'a namespace' }, minItems: 0, unique: true, description: 'namespaces of message children removed before a message crosses (XHTML-IM: http://jabber.org/protocol/xhtml-im); body, subject, thread, error and security labels are never removed; a message left with nothing is dropped' },
  drop_chat_states: { kind: 'boolean', description: 'chat states (XEP-0085) removed from messages that cross; a message with nothing else is dropped' },
  drop_message_types: enumList(MESSAGE_TYPES, 'messages of these types are dropped silently'),
  max_message_bytes: { kind: 'integer', min: 0, max: 64 * MIB, description: 'largest message that crosses, serialized, in bytes; larger ones are refused with policy-violation; 0 turns the limit off' },
  senders: jidPatterns('when written, only these addresses may send across: "alice@example.com", "*@example.com", "*@*.example.com", "group:NAME" (s2s.peering_groups) or "*"'),
  recipients: jidPatterns('when written, only these addresses may receive across; same patterns as senders'),
  deny_senders: jidPatterns('these addresses may not send across; checked before senders'),
  deny_recipients: jidPatterns('these addresses may not receive across; checked before recipients'),
  refusal: { kind: 'enum', values: ['bounce', 'drop'], description: 'what a stanza these checks refuse gets: bounce, an error with a text naming the rule back to its sender; drop, nothing' },
  clearance: { kind: 'string', description: 'the clearance of the servers of these domains, a label of the governing policy ("confidential finance"): every labelled message to or from them must be within it (s2s.security_labels, docs/labels.md)' },
  label_policy: { kind: 'string', description: 'the security policy (s2s.security_labels.policies) these domains work under: labels toward them are mapped into it by its equivalence, the original kept, and their labels read back by it' },
  hide_features: {
    kind: 'list',
    item: { kind: 'string', description: 'a disco feature (namespace)' },
    minItems: 0,
    unique: true,
    description: 'disco features hidden from these domains: left out of disco#info answers to them, entity capabilities (XEP-0115) removed from presence to them, and IQs and messages using them refused both ways with service-unavailable (docs/peering.md, "Hiding features")',
  },
};

/** A label or clearance of a security policy: "classification category ..." (docs/labels.md). */
const labelText = (description: string): StringNode => ({ kind: 'string', description });

/** `s2s.security_labels` (XEP-0258; docs/labels.md, src/config/security-labels.ts). */
const securityLabelsSchema: ObjectNode = {
  kind: 'object',
  optional: true,
  required: ['policy', 'policies'],
  description: 'security labels (XEP-0258) checked on every message that crosses to or from another server against the clearances of its sender, its recipient and the peer server, and mapped into the policy of the domains it goes to (docs/labels.md); absent: labels are not looked at',
  fields: {
    policy: { kind: 'string', description: 'the name of the policy that governs this server: its users\' labels, every clearance, and the catalog its clients get' },
    policies: {
      kind: 'map',
      keyName: 'policy name',
      prepareKey: (key) => {
        if (!/^[a-z0-9][a-z0-9_.-]*$/i.test(key)) throw new Error('a policy name is letters, digits, ".", "_" and "-"');
        return key;
      },
      minEntries: 1,
      description: 'security policies by name; both ends of a federation name a shared policy the same, as its name is carried in labels',
      value: {
        kind: 'object',
        description: 'one security policy',
        required: ['classifications'],
        fields: {
          classifications: { kind: 'list', item: { kind: 'string', description: 'a classification' }, minItems: 1, unique: true, description: 'the classifications, lowest first: a clearance covers its own and every lower one' },
          categories: { kind: 'list', item: { kind: 'string', description: 'a category' }, minItems: 0, unique: true, default: [], description: 'the categories: a clearance covers a label when it holds every category of the label' },
          default_label: labelText('the label of a message that carries none (or an empty one); without it an unlabelled message is refused'),
          default_clearance: labelText('the clearance of anyone and any server with none configured; without it they are cleared for nothing'),
          ess: {
            kind: 'map',
            keyName: 'ESS label (base64)',
            prepareKey: (key) => {
              const compact = key.replace(/\s+/g, '');
              if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new Error('an ESS label is written as the base64 of its DER encoding');
              return compact;
            },
            minEntries: 0,
            description: 'ESS security labels (RFC 2634, <esssecuritylabel xmlns="urn:xmpp:sec-label:ess:0">) this policy knows: each compared as its exact base64 text, and sent for its label toward this policy',
            value: { kind: 'object', description: 'one ESS label', required: ['label'], fields: { label: labelText('the label of this policy the ESS label stands for') } },
          },
          catalog: { kind: 'list', item: { kind: 'string', description: 'a label' }, minItems: 0, unique: true, default: [], description: 'the labels offered to clients in the label catalog (urn:xmpp:sec-label:catalog:2), each to those cleared for it; empty: one per classification' },
          equivalence: {
            kind: 'object',
            description: 'for a policy other than the governing one: how the governing policy\'s labels map into it, used toward its domains and, reversed, for labels from them',
            fields: {
              classifications: { kind: 'list', item: { kind: 'string', description: '"governing = this"' }, minItems: 0, unique: true, default: [], description: 'pairs "classification of the governing policy = classification of this one"; a label with an unmapped classification has no equivalent and is refused' },
              categories: { kind: 'list', item: { kind: 'string', description: '"governing = this"' }, minItems: 0, unique: true, default: [], description: 'pairs "category of the governing policy = category of this one"; a label with an unmapped category has no equivalent' },
            },
          },
        },
      },
    },
    clearances: {
      kind: 'map',
      keyName: 'JID pattern',
      prepareKey: prepareJidPattern,
      minEntries: 0,
      description: 'clearances under the governing policy, by JID pattern: "alice@example.com", "group:NAME" (s2s.peering_groups), "*@partner.example" (a domain), "*@*.partner.example" or "*"; the first that matches an address decides',
      value: { kind: 'object', description: 'one clearance', required: ['clearance'], fields: { clearance: labelText('the highest classification and the categories the addresses are cleared for: "secret finance legal"') } },
    },
    local: { kind: 'boolean', default: false, description: 'also check every message between two users of this server against the sender\'s and the recipient\'s clearances, an unlabelled one given the default label (docs/labels.md, "Between users of this server")' },
    rooms: {
      kind: 'map',
      keyName: 'room JID pattern',
      prepareKey: prepareJidPattern,
      minEntries: 0,
      description: 'rooms of this server\'s group-chat services with a clearance, by JID pattern: "ops@conference.example.com" or "*@conference.example.com"; the first that matches a room decides. A room that none matches is not label-checked (docs/labels.md, "Rooms")',
      value: {
        kind: 'object',
        description: 'one room or pattern of rooms',
        required: ['clearance'],
        fields: {
          clearance: labelText('the labels the room\'s messages may carry: a groupchat message above it is refused, and each occupant gets only the messages within its own clearance'),
          label: labelText('the label of the room: whoever enters must be cleared for it; absent: anyone may enter'),
        },
      },
    },
  },
};

/** Peering rules (docs/peering.md, src/config/peering.ts). */
const peeringSchema: MapNode = {
  kind: 'map',
  keyName: 'domain',
  prepareKey: preparePeeringKey,
  minEntries: 0,
  description:
    'peering rules by remote domain: a domain, "*.example.com" for its subdomains, or "*" for every domain no other rule covers. For each of level, access and route the most specific rule that sets it decides: a domain, then the longest pattern, then "*" (docs/peering.md)',
  value: {
    kind: 'object',
    description: 'one remote domain or pattern',
    fields: {
      subdomains: { kind: 'boolean', default: false, description: 'with a domain key: the rule covers the domain and every subdomain of it' },
      level: federationLevel('the federation level these domains must reach (for "*", write s2s.min_level)'),
      access: { kind: 'enum', values: ['allow', 'deny'], description: 'deny: no federation with these domains, either way (streams refused, stanzas bounce with not-allowed); allow: federation, unless s2s.access or a run-time block refuses it' },
      route: { kind: 'enum', values: ['direct', 'reject'], description: 'direct: to the servers their DNS records name (RFC 6120 section 3.2); reject: stanzas for them bounce with not-allowed, nothing connects' },
      via: {
        kind: 'string',
        format: nextHop,
        description: 'send stanzas for these domains through a next hop: a domain whose servers are found by DNS as usual, or "host:port" / "[ipv6]:port" reached directly, without SRV records',
      },
      link: { kind: 'string', format: linkName, description: 'send stanzas for these domains over a configured link (links, docs/links.md); never with via or route: reject' },
      speaks_for: {
        kind: 'list',
        item: { kind: 'string', format: peeringPattern, description: 'a domain, "*.example.com" for its subdomains, or "*" for every domain not hosted here' },
        minItems: 1,
        unique: true,
        description: 'with a domain key, a trunk peer: stanzas from these domains are accepted from this peer once it is authenticated at its level, and stanzas routed via this domain travel on a stream with the peer itself (docs/peering.md, "Trunks and relaying"); hosted domains are never spoken for',
      },
      front: {
        kind: 'boolean',
        description:
          'with a domain key and via: this server fronts the domain for plain peers, whose DNS records for it name this server: it takes their streams and dialback for the domain, authenticates as the domain toward them (a hosted domain\'s certificate must name it), and relays between them and the domain\'s own server behind it (docs/peering.md, "Fronting a plain peer")',
      },
      ...peeringChecksFields,
    },
  },
};

const webhookUrl: StringFormat = {
  name: 'http or https URL',
  prepare(value) {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the URL must be http or https, not ${url.protocol}`);
    return url.toString();
  },
};

const peeringGroupsSchema: MapNode = {
  kind: 'map',
  keyName: 'group name',
  prepareKey: (key) => {
    if (!/^[a-z0-9][a-z0-9_.-]*$/i.test(key)) throw new Error('a group name is letters, digits, ".", "_" and "-"');
    return key;
  },
  minEntries: 0,
  description: 'groups of local users, named in peering rules\' JID patterns as "group:NAME", so that only some roles may use a feature with other domains',
  value: {
    kind: 'object',
    description: 'one group',
    required: ['members'],
    fields: { members: jidPatterns('the accounts of the group, "alice@example.com", or patterns such as "*@staff.example.com"') },
  },
};

const s2sSchema: ObjectNode = {
  kind: 'object',
  description: 'server-to-server federation (docs/federation.md)',
  fields: {
    enabled: { kind: 'boolean', default: true, description: 'federate with other servers' },
    min_level: federationLevel('the federation level every remote domain must reach: permissive, verified (dialback), encrypted (TLS + dialback or certificate), trusted (TLS + CA-signed certificate)', 'encrypted'),
    peers: {
      kind: 'map',
      keyName: 'domain',
      prepareKey: prepareDomainPattern,
      minEntries: 0,
      description: 'per remote domain settings, keyed by the domain or "*.example.com" for its subdomains; the most specific key wins',
      value: {
        kind: 'object',
        description: 'one remote domain or pattern',
        required: ['level'],
        fields: { level: federationLevel('the federation level this remote domain must reach') },
      },
    },
    peering: peeringSchema,
    peering_groups: peeringGroupsSchema,
    relay_hop_limit: { kind: 'integer', min: 1, max: 64, default: 8, description: 'servers a relayed stanza may have crossed (counted in its relay trace, docs/peering.md); one that crossed more, or that comes back to this server, is refused with an error and an alert' },
    security_labels: securityLabelsSchema,
    peering_audit: {
      kind: 'object',
      description: 'the audit trail and alerts of peering rules\' checks (docs/peering.md, "Audit and alerts"): refusals are written to storage and raise an alert (a warning, a counter, an entry in the admin API, a webhook call)',
      fields: {
        enabled: { kind: 'boolean', default: true, description: 'write refusals to storage; trellis audit lists them' },
        record_actions: { kind: 'boolean', default: false, description: 'also write folding and dropped message types, which are not refusals (one record per stanza changed)' },
        retention_days: { kind: 'integer', min: 1, max: 3650, default: 90, description: 'days a record is kept' },
        max_records: { kind: 'integer', min: 1000, max: 100_000_000, default: 1_000_000, description: 'records kept at most; the oldest go first' },
        write_interval: seconds(1, 60, 1, 'seconds a record waits at most before it is written; 100 waiting are written at once'),
        webhook: { kind: 'string', format: webhookUrl, description: 'an http or https URL each alert is POSTed to as JSON; one call at a time, at most 1000 waiting, failures counted and logged, never retried' },
        webhook_timeout: seconds(1, 60, 5, 'seconds one webhook call may take'),
      },
    },
    ca_files: caFiles("PEM files of CA certificates trusted for peers' certificates; relative to the config file's directory"),
    use_system_ca: { kind: 'boolean', default: true, description: "also trust the system's CA certificates" },
    dialback_secret: { kind: 'string', description: 'secret for dialback keys (XEP-0185); when absent one is generated once and kept in storage' },
    connect_timeout: seconds(1, 300, 10, 'seconds to wait for a TCP connection to one address'),
    negotiation_timeout: seconds(1, 600, 30, 'seconds a server stream may take to authenticate'),
    idle_timeout: seconds(10, 86400, 600, 'seconds without traffic before a server stream is closed'),
    bidi: { kind: 'boolean', default: true, description: 'offer and ask for bidirectional server connections (XEP-0288): traffic both ways on one connection when the peer supports it' },
    multiplex: { kind: 'boolean', default: true, description: 'carry the pairs of several local or remote domains on one outgoing connection when the peer\'s host and certificates allow it (docs/federation.md, "Hosting many domains"); false opens a connection of its own for each pair of domains (local, remote) we send for' },
    queue_max_stanzas: { kind: 'integer', min: 1, max: 1_000_000, default: 1000, description: 'stanzas held per remote domain while its connection is set up; more bounce with resource-constraint' },
    retry_initial_delay: seconds(1, 3600, 5, 'seconds before retrying a remote domain that could not be reached; doubles with each failure'),
    retry_max_delay: seconds(1, 86400, 600, 'longest wait between attempts to reach a failing remote domain'),
    limits: parserLimits('parser limits applied to every server stream', 512 * KIB),
    rate: readRate('how fast one remote server may send for one domain pair; reading pauses while it is over, so a flooding domain slows down and local users do not notice', 256 * KIB, 2 * MIB, 1000, 5000),
    rate_pairs_max: {
      kind: 'integer',
      min: 1,
      max: 100_000,
      default: 64,
      description: 'a connection carrying several domain pairs from the peer reads at rate times their number, up to this many: a shared connection gets what that many connections of their own would; 1 holds every connection to rate',
    },
    output: {
      kind: 'object',
      description: 'memory held for remote servers: a stanza counts from when it is written to a server connection until the peer has it (acknowledged with stream management, else taken by the socket)',
      fields: {
        connection_buffer: {
          kind: 'integer',
          min: 64 * KIB,
          max: 1024 * MIB,
          default: 2 * MIB,
          description: 'bytes of stanzas one server connection may hold; a stanza beyond it bounces with resource-constraint, so a peer that reads slower than it is written to cannot grow memory',
        },
        total_buffer: {
          kind: 'integer',
          min: 1 * MIB,
          max: 64 * 1024 * MIB,
          default: 64 * MIB,
          description: 'bytes of stanzas all server connections together may hold; beyond it the same happens as beyond connection_buffer',
        },
      },
    },
    access: {
      kind: 'object',
      description: 'allow and deny lists of foreign servers, checked in both directions (docs/policy.md)',
      fields: {
        deny_domains: accessList(domainEntry, 'remote domains refused, exact or "*.example.com" for every subdomain; deny wins over allow'),
        allow_domains: accessList(domainEntry, 'when not empty, only these remote domains may federate; same patterns as deny_domains'),
        deny_addresses: accessList(addressEntry, 'remote IP addresses or CIDR ranges refused (10.0.0.0/8, 2001:db8::/32); IPv4-mapped IPv6 peers match IPv4 entries'),
        allow_addresses: accessList(addressEntry, 'when not empty, only peers at these addresses or ranges may federate'),
      },
    },
    delegation: delegationSchema,
    host_streams: {
      kind: 'object',
      description: "streams named after the two hosts rather than a domain pair (draft-ietf-xmpp-dna-01 section 5), with Trellis peers that offer them: mutual TLS with each host's certificate, then every domain pair authorized on the one connection (docs/protocols/host-named-streams.md). Other peers get the standard stream",
      fields: {
        enabled: { kind: 'boolean', default: false, description: 'offer host-named streams and upgrade to them where a peer offers them (experimental, Trellis to Trellis)' },
        name: { kind: 'string', format: domainName, description: "this host's name, which its certificate must prove and other domains' SRV records point at; the first hosted domain when absent" },
        tls: tlsFiles("certificate and key proving the host's name; when absent, the certificate of the hosted domain of that name"),
      },
    },
  },
};

/** Connection and authentication limits (docs/security.md, "Connection and authentication limits"). */
const limitsSchema: ObjectNode = {
  kind: 'object',
  description: 'limits that keep one address, one attacker or one resource shortage from taking the server down (docs/security.md); 0 turns a count or size limit off',
  fields: {
    c2s_per_address: count(1_000_000, 32, 'client connections open at once from one IPv4 address or IPv6 /64, negotiating or authenticated; more are refused with policy-violation. Stops one host from holding all file descriptors'),
    s2s_per_address: count(1_000_000, 128, 'incoming server connections open at once from one IPv4 address or IPv6 /64; a server hosting many domains opens one per domain pair. Stops one host from holding all file descriptors'),
    component_per_address: count(1_000_000, 16, 'component connections open at once from one IPv4 address or IPv6 /64, before and after their handshake'),
    s2s_new_connections: {
      kind: 'object',
      description: 'how fast one IPv4 address or IPv6 /64 may open incoming server connections: per_address in a burst, refilled at per_address per window seconds; beyond that its new connections are refused (policy-violation) for backoff seconds, twice as long each further time up to backoff_max. Stops a peer that reconnects in a loop from taking the server\'s time',
      fields: {
        per_address: count(1_000_000, 128, 'new incoming server connections one address may open in a burst, and per window on average; 0 turns this off'),
        window: seconds(1, 86400, 60, 'seconds in which per_address connections are refilled'),
        backoff: seconds(1, 86400, 10, 'seconds the first refusal period lasts; each further one lasts twice as long'),
        backoff_max: seconds(1, 86400, 600, 'seconds the longest refusal period lasts; an address that keeps under the rate this long after its last one starts over at backoff'),
        held_per_address: count(1024, 8, 'connections refused during a period that are held, unread and unanswered, until it ends, so that a peer which waits for an answer before reconnecting makes one attempt per period; past this many per address the rest are refused at once; 0 refuses all at once'),
      },
    },
    c2s_unauthenticated: count(1_000_000, 1000, 'client connections that have not authenticated yet, all addresses together; more are refused. Keeps a flood of idle or slow connections (from many addresses) from crowding out logins'),
    max_open_files_percent: { kind: 'integer', min: 1, max: 100, default: 90, description: "new connections are refused while the process holds this share of its open-file limit (RLIMIT_NOFILE, soft), so that running sessions, storage and logins in progress keep descriptors; 100 turns it off" },
    max_heap_percent: { kind: 'integer', min: 1, max: 100, default: 85, description: "new connections are refused while JavaScript objects use this share of V8's heap limit, which would otherwise end the process with an out-of-memory crash; 100 turns it off" },
    max_memory_mib: count(16 * MIB, 0, 'new connections are refused while the resident memory (RSS, including buffers and TLS state outside the heap) is above this many MiB; 0 means 90% of the memory the process may use (its cgroup limit, else the machine\'s RAM)'),
    log_interval: seconds(1, 86400, 60, 'seconds between two warnings about the same limit and address, the same peering rule and domain, or the same thing a server peer repeats on one connection (docs/security.md); refusals in between are counted into the next warning (and, for limits, the admin API metrics)'),
    auth: {
      kind: 'object',
      description: 'failed logins counted across streams, per address and per account (c2s.auth_failure_delay and c2s.max_auth_failures act per stream)',
      fields: {
        window: seconds(10, 86400, 600, 'seconds over which failed logins are counted'),
        block_duration: seconds(1, 86400, 600, 'seconds a blocked address or account/address pair is refused with temporary-auth-failure'),
        max_failures_per_address: count(1_000_000, 20, 'failed logins from one IPv4 address or IPv6 /64 within window before every login from it is refused for block_duration; stops password guessing from one host'),
        max_failures_per_account_address: count(1_000_000, 5, 'failed logins on one account from one address within window before that address may not try that account for block_duration'),
        max_failures_per_account: count(1_000_000, 50, 'failed logins on one account from all addresses within window before only addresses that logged in to it successfully before may try it, for block_duration; stops guessing spread over many addresses without locking the owner out of known places'),
      },
    },
  },
};

const dnsSchema: ObjectNode = {
  kind: 'object',
  description: 'DNS resolution of remote servers (SRV records, RFC 6120 section 3.2)',
  fields: {
    servers: {
      kind: 'list',
      item: { kind: 'string', description: 'an IP address, optionally with :port' },
      minItems: 0,
      unique: true,
      default: [],
      description: "resolvers to query; empty means the system's resolv.conf",
    },
    timeout: seconds(1, 60, 5, 'seconds per DNS query'),
    cache_entries: {
      kind: 'integer',
      min: 0,
      max: 1_000_000,
      default: 10_000,
      description: "A and AAAA answers kept in the server for their TTL (at most an hour), and names without them for a minute; 0 asks the resolver every time",
    },
  },
};

const adminSchema: ObjectNode = {
  kind: 'object',
  description: 'the admin API that `trellis s2s`, `trellis status` and metrics scrapers read (docs/admin.md)',
  fields: {
    enabled: { kind: 'boolean', default: true, description: 'serve the admin API on a unix domain socket' },
    socket: {
      kind: 'string',
      default: 'admin.sock',
      description: 'path of the socket (created with mode 0600); relative to data_dir unless absolute',
    },
  },
};

/** How external components (XEP-0114) connect and what each one may do. */
const linkAddress = checkedBy('host:port', parseLinkAddress);
const linkDomains = (description: string): ListNode => ({ kind: 'list', item: { kind: 'string', format: domainEntry, description: domainEntry.name }, minItems: 1, unique: true, description });

/** Settings of a link whose protocol is standard server-to-server (docs/links.md, "Links over server-to-server streams"). */
export const linkS2sSchema: ObjectNode = {
  kind: 'object',
  description: 'with protocol: s2s, how the server-to-server stream to the peer at address is secured and authenticated (RFC 6120), in place of s2s.peering levels and DNS',
  optional: true,
  fields: {
    tls: { kind: 'enum', values: ['required', 'optional'], default: 'required', description: 'required: the stream is TLS-protected (STARTTLS, or direct_tls) before anything else, and a peer that offers no TLS is refused; optional: TLS when the peer offers it (RFC 7590)' },
    direct_tls: { kind: 'boolean', default: false, description: 'TLS from the first byte at address (XEP-0368) instead of STARTTLS' },
    authentication: {
      kind: 'enum',
      values: ['any', 'dialback', 'sasl_external'],
      default: 'any',
      description: 'how the domains are proven, both ways: sasl_external (XEP-0178: the certificate, checked against peer_certificate, ca_file or s2s.ca_files), dialback (XEP-0220, its verification also over this link), or any: SASL EXTERNAL when the certificate allows it, else dialback',
    },
    peer_certificate: { kind: 'string', description: 'PEM file of the one certificate the peer must present (pinned): any other ends the stream, and stanzas bounce with remote-server-not-found; the pinned certificate proves every domain of remote_domains' },
    ca_file: { kind: 'string', description: 'PEM file of the CA certificates the peer\'s certificate must chain to, in place of s2s.ca_files' },
    connect_timeout: seconds(1, 300, 10, 'seconds to wait for the TCP connection to address'),
    negotiation_timeout: seconds(1, 600, 30, 'seconds the stream may take to be secured and authenticated'),
  },
};

const XEP0361_ONLY = ['xep0361'] as const;

/** Links to peer servers configured at both ends (docs/links.md, src/config/links.ts, src/links). */
const linksSchema: MapNode = {
  kind: 'map',
  keyName: 'link name',
  prepareKey: prepareLinkName,
  minEntries: 0,
  description:
    'named links to peer servers configured the same way at both ends: zero-handshake streams (XEP-0361), or server-to-server streams to a fixed address with settings of their own; an s2s.peering rule with link: NAME routes domains over one (docs/links.md)',
  value: {
    kind: 'object',
    description: 'one link',
    required: ['address', 'local_domains', 'remote_domains'],
    onlyWhen: {
      key: 'protocol',
      fields: {
        transport: XEP0361_ONLY,
        listen: XEP0361_ONLY,
        peer_addresses: XEP0361_ONLY,
        identity: XEP0361_ONLY,
        tls: XEP0361_ONLY,
        expiry: XEP0361_ONLY,
        queue_max_bytes: XEP0361_ONLY,
        max_stanza_bytes: XEP0361_ONLY,
        guard: XEP0361_ONLY,
        s2s: ['s2s'],
      },
    },
    fields: {
      protocol: {
        kind: 'enum',
        values: ['xep0361', 's2s'],
        default: 'xep0361',
        description: 'xep0361: zero handshake, stanzas from the first byte, no stream header (XEP-0361); s2s: standard server-to-server streams (RFC 6120) to the peer at address, no DNS, secured as the link\'s s2s settings say',
      },
      transport: { kind: 'enum', values: ['tcp', 'tls'], default: 'tcp', description: 'xep0361 links: tcp: plain, for networks protected below (XEP-0361 section 4.6); tls: TLS from the first byte, both sides presenting tls.certificate' },
      connect: {
        kind: 'enum',
        values: ['out', 'in', 'both'],
        description:
          'out: this side opens the connection to address and reopens it when it drops; in: this side listens on address and the peer connects; one connection then carries both directions (XEP-0361 section 4.3). both: each side connects out (to address) and listens (on listen), and each connection carries only what the side that opened it sends. Required for xep0361 links; s2s links connect out (the default), the peer\'s stream arriving at this server\'s s2s listener',
      },
      address: { kind: 'string', format: linkAddress, description: 'with connect: out or both, the peer\'s "host:port"; with connect: in, the local "address:port" to listen on (port 0 picks one)' },
      listen: { kind: 'string', format: linkAddress, description: 'xep0361 links with connect: both: the local "address:port" the peer connects to (port 0 picks one)' },
      peer_addresses: accessList(addressEntry, 'xep0361 links with connect: in or both: the IP addresses or CIDR ranges the peer may connect from (identity by address, XEP-0361 section 4.2); required with identity: address'),
      identity: { kind: 'enum', values: ['address', 'certificate'], default: 'address', description: 'xep0361 links: how the peer is known (XEP-0361 section 4.2): address (where we connected, or peer_addresses), or certificate (transport: tls, checked against tls.peer_certificate or tls.ca_file)' },
      local_domains: linkDomains('domains this side speaks for on the link ("*.example.com" for subdomains); a stanza arriving for any other is refused'),
      remote_domains: linkDomains('domains the peer speaks for; a stanza arriving from any other is refused, and only these may be routed to the link'),
      tls: {
        kind: 'object',
        description: 'xep0361 links: TLS on the link (transport: tls)',
        optional: true,
        required: ['certificate', 'key'],
        fields: {
          certificate: { kind: 'string', description: 'PEM certificate chain this side presents; relative to the config file\'s directory' },
          key: { kind: 'string', description: 'PEM private key of that certificate' },
          peer_certificate: { kind: 'string', description: 'PEM file of the one certificate the peer must present (pinned)' },
          ca_file: { kind: 'string', description: 'PEM file of CA certificates the peer\'s certificate must chain to (a trust anchor)' },
        },
      },
      s2s: linkS2sSchema,
      keepalive: seconds(0, 86400, 60, 'seconds of silence after which a whitespace keepalive is written (RFC 6120 section 4.6.1); 0, or guard.whitespace_keepalives: false, writes none and relies on TCP keepalives'),
      reconnect_initial_delay: seconds(1, 3600, 2, 'seconds before the first attempt to reopen a dropped link (connect: out), doubling per failure; on an s2s link, before a peer that could not be reached is tried again'),
      reconnect_max_delay: seconds(1, 86400, 60, 'most seconds between attempts to reopen the link'),
      expiry: seconds(1, 30 * 86400, 86400, 'xep0361 links: seconds a message may wait for the link; then its sender gets remote-server-timeout saying it expired'),
      queue_max_messages: {
        kind: 'integer',
        min: 1,
        max: 10_000_000,
        default: 1000,
        description: 'messages kept in storage while the link is down; one more bounces with remote-server-timeout saying the queue is full. On an s2s link: stanzas held in memory while its stream is set up; one more bounces with resource-constraint',
      },
      queue_max_bytes: { kind: 'integer', min: KIB, max: 64 * 1024 * MIB, default: 16 * MIB, description: 'xep0361 links: bytes of messages kept in storage while the link is down' },
      max_stanza_bytes: { kind: 'integer', min: 256, max: 64 * MIB, default: 64 * KIB, description: 'xep0361 links: largest element either way: a larger one arriving ends the connection, a larger one to send bounces with policy-violation (a guard\'s maximum element size)' },
      guard: {
        kind: 'object',
        description: 'xep0361 links: output an XML guard can inspect (docs/links.md)',
        fields: {
          enabled: { kind: 'boolean', default: false, description: 'one top-level element per line and no namespace prefixes beyond the implicit defaults: a stanza that would need one bounces with policy-violation' },
          whitespace_keepalives: { kind: 'boolean', default: true, description: 'false: no whitespace between elements other than the line ends, so no whitespace keepalives' },
        },
      },
    },
  },
};

const componentSchema: ObjectNode = {
  kind: 'object',
  description: 'streams of external components (XEP-0114, docs/gateways.md); a reload applies them to connections opened after it',
  fields: {
    handshake_timeout: seconds(1, 600, 10, 'seconds a component connection may take to send its stream header and handshake'),
    pre_handshake_max_stanza_bytes: { kind: 'integer', min: 256, max: 64 * KIB, default: 4 * KIB, description: 'largest element before the handshake succeeded, in bytes; the handshake itself is a few dozen' },
    limits: parserLimits('parser limits applied to a component stream once it is authenticated', 512 * KIB),
    rate: readRate('how fast one component may send; reading pauses while it is over', 1 * MIB, 4 * MIB, 2000, 10_000),
    reconnect_hold: seconds(0, 300, 10, 'seconds stanzas for a component whose connection dropped are held for it to reconnect; then, or with 0, they bounce with service-unavailable, as do stanzas for a component that is not connected'),
    hold_max_stanzas: { kind: 'integer', min: 0, max: 1_000_000, default: 1000, description: 'stanzas held per component while it reconnects; more bounce with service-unavailable' },
  },
};

const componentsSchema: MapNode = {
  kind: 'map',
  keyName: 'domain',
  prepareKey: prepareDomain,
  minEntries: 0,
  description: 'external components (XEP-0114) keyed by the domain each serves: stanzas to that domain and its JIDs go to the component connected for it (docs/gateways.md); a reload adds, removes and re-keys them',
  value: {
    kind: 'object',
    description: 'one component',
    required: ['secret'],
    fields: {
      secret: { kind: 'string', description: 'the shared secret the component proves in its handshake (SHA-1 of the stream id and the secret)' },
    },
  },
};

/** An enabled console that nobody may log in to is a mistake. */
function checkConsole(settings: Readonly<Record<string, unknown>>): KeyProblem[] {
  if (settings.enabled !== true || (settings.admins as readonly string[]).length > 0) return [];
  return [{ key: 'admins', message: 'the console is enabled but nobody may log in to it; name at least one account, such as admin@example.com' }];
}

/**
 * Plain HTTP carries passwords and files in the clear: it is allowed only where nobody else can
 * listen in (loopback addresses) or where a reverse proxy in front terminates TLS.
 */
function checkHttp(http: Readonly<Record<string, unknown>>): KeyProblem[] {
  if (http.tls !== false || (http.trusted_proxies as readonly string[]).length > 0) return [];
  const open = (http.addresses as readonly string[]).filter((address) => !isLoopbackAddress(address));
  if (open.length === 0) return [];
  return [{ key: 'tls', message: `plain HTTP on ${open.join(', ')} would expose logins and files; bind only loopback addresses (127.0.0.1, ::1), name the reverse proxy in trusted_proxies, or keep tls: true` }];
}

const httpSchema: ObjectNode = {
  kind: 'object',
  description: 'the HTTP listener: WebSocket client connections (RFC 7395), host-meta discovery (XEP-0156) and file upload (XEP-0363) (docs/web.md)',
  fields: {
    ...listener('', true, 5443).fields,
    tls: { kind: 'boolean', default: true, description: 'serve HTTPS with the hosts\' certificates, chosen by SNI; false serves plain HTTP, allowed only on loopback addresses or with trusted_proxies (a reverse proxy in front terminates TLS)' },
    trusted_proxies: accessList(addressEntry, 'reverse proxies (IP addresses or CIDR ranges) whose X-Forwarded-For names the client\'s address; with tls: false, only they and loopback peers are served'),
    public_url: { kind: 'string', format: httpUrl, description: 'the base URL clients reach this listener at, such as https://xmpp.example.com behind a reverse proxy; when absent, https://<domain>:<port> with the domain the client asked for' },
    max_connections: { kind: 'integer', min: 1, max: 1_000_000, default: 1024, description: 'HTTP connections open at once, WebSocket clients included; more are closed at once' },
    max_header_bytes: { kind: 'integer', min: KIB, max: MIB, default: 16 * KIB, description: 'largest request head (request line and headers); larger gets 431' },
    header_timeout: seconds(1, 300, 10, 'seconds a client may take to send a request\'s headers'),
    request_timeout: seconds(1, 86_400, 300, 'seconds a client may take to send a whole request, an upload\'s body included'),
    idle_timeout: seconds(1, 3600, 30, 'seconds a kept-alive connection may wait for its next request'),
    websocket: {
      kind: 'object',
      description: 'client connections over WebSocket (RFC 7395), with the same authentication, limits and stream management as TCP clients',
      fields: {
        enabled: { kind: 'boolean', default: true, description: 'accept WebSocket clients (subprotocol "xmpp") and list them in host-meta' },
        path: { kind: 'string', format: urlPath, default: '/xmpp-websocket', description: 'the path WebSocket clients connect to' },
        see_other_uri: { kind: 'string', format: webSocketUrl, description: 'when set, every WebSocket client is sent there instead (RFC 7395 section 3.6.1), as when the service moved' },
      },
    },
    console: {
      kind: 'object',
      description: 'the web console at /admin/ (docs/console.md): status, hosts, users, sessions and the live federation map, for the accounts named in admins, who log in with their XMPP password',
      fields: {
        enabled: { kind: 'boolean', default: false, description: 'serve the console at /admin/ on this listener' },
        admins: { kind: 'list', item: { kind: 'string', format: bareJid, description: bareJid.name }, minItems: 0, unique: true, default: [], description: 'the accounts that may log in to the console ("admin@example.com"), each on a hosted domain' },
        session_lifetime: seconds(60, 7 * 86400, 8 * 3600, 'seconds a console login lasts, however active'),
        idle_timeout: seconds(60, 86400, 1800, 'seconds without a request after which a console login ends'),
        max_sessions: { kind: 'integer', min: 1, max: 10_000, default: 64, description: 'console logins kept at once; one more ends the least recently used' },
        max_event_streams: { kind: 'integer', min: 1, max: 1000, default: 16, description: 'live update streams (server-sent events) open at once, for all logins; one more is refused with 503' },
      },
      check: checkConsole,
    },
  },
  check: checkHttp,
};

export const trellisSchema: ObjectNode = {
  kind: 'object',
  description: 'trellis.yaml',
  fields: {
    mode: {
      kind: 'enum',
      values: ['server', 'edge'],
      default: 'server',
      description: 'server: users, clients and federation; edge: no local accounts and no client, WebSocket or component listener, only server connections and relaying between the domains s2s.peering routes (docs/peering.md, "Edge servers")',
    },
    data_dir: {
      kind: 'string',
      default: './data',
      description: 'directory for the database, generated certificates and secrets; relative to the config file\'s directory',
    },
    log: {
      kind: 'object',
      description: 'logging to standard output',
      fields: {
        level: {
          kind: 'enum',
          values: ['debug', 'info', 'warn', 'error'],
          default: 'info',
          description: 'least severe level that is written',
        },
        format: {
          kind: 'enum',
          values: ['text', 'json'],
          default: 'text',
          description: 'human-readable lines or one JSON object per line',
        },
      },
    },
    listeners: {
      kind: 'object',
      description: 'network listeners',
      fields: {
        c2s: listener('client connections with STARTTLS (RFC 6120)', true, 5222),
        c2s_direct_tls: listener('client connections with TLS from the first byte (XEP-0368)', false, 5223),
        s2s: listener('server connections with STARTTLS (RFC 6120)', true, 5269),
        s2s_direct_tls: listener('server connections with TLS from the first byte (XEP-0368)', false, 5270),
        component: listener('external components (XEP-0114, docs/gateways.md); opened only when `components` names at least one; loopback by default, since the handshake is a shared secret over plain TCP', true, 5347, ['127.0.0.1']),
      },
    },
    storage: {
      kind: 'object',
      description: 'where accounts, rosters and other persistent data live',
      fields: {
        driver: {
          kind: 'enum',
          values: ['sqlite', 'postgres'],
          default: 'sqlite',
          description: 'database backend',
        },
        sqlite_file: {
          kind: 'string',
          default: 'trellis.sqlite',
          description: 'SQLite database file; relative to data_dir unless absolute',
        },
        postgres_url: {
          kind: 'string',
          description: 'PostgreSQL connection string (postgres://user:pass@host:port/db); required when driver is postgres',
        },
      },
      check: checkPostgresUrl,
    },
    tls: tlsFiles('default certificate for hosts without their own; optional'),
    tls_settings: tlsSettingsSchema,
    cluster: clusterSchema,
    c2s: {
      kind: 'object',
      description: 'client-to-server streams',
      fields: {
        require_tls: {
          kind: 'boolean',
          default: true,
          description: 'require STARTTLS before authentication (RFC 6120 section 5.3.1)',
        },
        sasl_mechanisms: {
          kind: 'list',
          item: {
            kind: 'enum',
            values: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1', 'PLAIN'],
            description: 'a SASL mechanism',
          },
          minItems: 1,
          unique: true,
          default: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1', 'PLAIN'],
          description:
            'SASL mechanisms offered, in preference order; PLAIN is only ever offered over TLS, the -PLUS ones (channel binding: tls-exporter on TLS 1.3, tls-server-end-point) only on a TLS stream of this server\'s own (not over WebSocket)',
        },
        pre_auth_timeout: {
          kind: 'integer',
          min: 1,
          max: 3600,
          default: 30,
          description: 'seconds a connection may take to authenticate',
        },
        idle_timeout: {
          kind: 'integer',
          min: 1,
          max: 86400,
          default: 600,
          description: 'seconds without any traffic (whitespace keepalives count) before an authenticated stream is closed',
        },
        auth_failure_delay: {
          kind: 'integer',
          min: 0,
          max: 60000,
          default: 500,
          description: 'milliseconds added before answering a failed authentication, doubling per failure',
        },
        max_auth_failures: {
          kind: 'integer',
          min: 1,
          max: 100,
          default: 3,
          description: 'failed authentications allowed on one stream before it is closed',
        },
        scram_iterations: {
          kind: 'integer',
          min: 4096,
          max: 10_000_000,
          default: 10000,
          description: 'PBKDF2 iteration count for new SCRAM verifiers (RFC 7677 asks for at least 4096)',
        },
        limits: parserLimits('parser limits applied to every client stream once it is authenticated', 256 * KIB),
        pre_auth_max_stanza_bytes: {
          kind: 'integer',
          min: 1024,
          max: 64 * MIB,
          default: 16 * KIB,
          description: 'largest stanza or SASL element before authentication, in bytes (at most limits.max_stanza_bytes applies); an unauthenticated connection gets little memory',
        },
        rate: readRate('how fast one client may send; reading pauses while it is over, so a flooder slows down and nobody else notices (as Prosody\'s mod_limits)', 20 * KIB, 256 * KIB, 50, 200),
        max_sessions_per_account: {
          kind: 'integer',
          min: 1,
          max: 10_000,
          default: 10,
          description: 'connected resources one account may have at once; binding one more is refused with resource-constraint (RFC 6120 section 7.6.2.1)',
        },
        keepalive: {
          kind: 'object',
          description: 'finding clients whose network went away without closing the connection',
          fields: {
            interval: {
              kind: 'integer',
              min: 0,
              max: 86400,
              default: 25,
              description: 'seconds of silence after which a client is asked to answer (an XEP-0198 <r/>, else an XEP-0199 ping); 0 never asks',
            },
            timeout: {
              kind: 'integer',
              min: 1,
              max: 3600,
              default: 15,
              description: 'seconds to wait for that answer before the connection is dropped (a session with stream management then waits for its client to resume)',
            },
          },
        },
        stream_management: {
          kind: 'object',
          description: 'stream management (XEP-0198): acknowledgements both ways and resumption after a dropped connection',
          fields: {
            enabled: { kind: 'boolean', default: true, description: 'offer stream management to clients' },
            resume_timeout: {
              kind: 'integer',
              min: 1,
              max: 86400,
              default: 300,
              description: 'seconds a session waits for its client to resume after the connection dropped; then what it held goes to offline storage (messages) or back to the sender (IQs). A client may ask for less',
            },
          },
        },
        fast: {
          kind: 'object',
          description: 'FAST logins (XEP-0484, docs/clients.md "Fast logins"): a client that logged in with SASL2 may ask for a token and log in with it later, in one round trip, without its password. Tokens are kept as hashes, bound to the client\'s user-agent id and mechanism, rotated when used, and all revoked when the password changes or the account is deleted',
          fields: {
            enabled: { kind: 'boolean', default: true, description: 'offer FAST tokens inside SASL2' },
            token_lifetime: {
              kind: 'integer',
              min: 300,
              max: 365 * 86400,
              default: 14 * 86400,
              description: 'seconds a token is valid after it is issued; a login with a token in the second half of its life gets a new one',
            },
            max_tokens_per_account: {
              kind: 'integer',
              min: 1,
              max: 1000,
              default: 16,
              description: 'tokens one account holds at most, all its clients together; a new one ends the one that expires first',
            },
          },
        },
        csi: {
          kind: 'object',
          description: 'client state indication (XEP-0352): while a client says it is inactive (a phone with its screen off), presence updates and chat states wait, and only the latest presence of each contact is sent when it is active again or something important arrives (docs/clients.md)',
          fields: {
            enabled: { kind: 'boolean', default: true, description: 'offer client state indication to clients' },
            max_held: {
              kind: 'integer',
              min: 1,
              max: 10_000,
              default: 250,
              description: 'stanzas held for an inactive client; one more sends them all at once (held stanzas also count against output.session_buffer)',
            },
          },
        },
        output: {
          kind: 'object',
          description: 'memory held for clients: a stanza counts from when it is queued until the client has it (written, or acknowledged with stream management)',
          fields: {
            session_buffer: {
              kind: 'integer',
              min: 64 * KIB,
              max: 1024 * MIB,
              default: 1 * MIB,
              description: 'bytes of stanzas one session may hold; a message beyond it goes to offline storage and reaches the client once it reads, an IQ request beyond it bounces with resource-constraint',
            },
            total_buffer: {
              kind: 'integer',
              min: 1 * MIB,
              max: 64 * 1024 * MIB,
              default: 64 * MIB,
              description: 'bytes of stanzas all sessions together may hold; beyond it the same happens as beyond session_buffer',
            },
          },
        },
      },
    },
    s2s: s2sSchema,
    limits: limitsSchema,
    dns: dnsSchema,
    admin: adminSchema,
    component: componentSchema,
    components: componentsSchema,
    links: linksSchema,
    http: httpSchema,
    ...hostSettings(false),
    hosts: {
      kind: 'map',
      keyName: 'domain',
      prepareKey: prepareDomain,
      minEntries: 1,
      description: 'the domains this server hosts, keyed by domain; at least one. A host section may set any of the IM settings above (modules_disabled, roster, offline, strangers, registration, version, disco, contact_addresses, foreign_access, muc, pep, pubsub, mam, push, upload, external_services); a key it leaves out (shown as —) takes the top-level value',
      value: {
        kind: 'object',
        description: 'one hosted domain',
        fields: {
          tls: tlsFiles('certificate for this domain; when absent the top-level tls is used, else a self-signed one is generated under data_dir'),
          ...hostSettings(true),
        },
      },
    },
  },
  check: checkClusterStorage,
};
