/**
 * The resolved configuration: what `loadConfig` returns after validating trellis.yaml against
 * the schema (src/config/schema.ts) and filling defaults. Keys mirror the YAML keys exactly.
 * Every object is frozen.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface TlsFiles {
  /** PEM certificate chain file */
  certificate: string;
  /** PEM private key file */
  key: string;
}

/** TLS protocol versions an operator may choose between (RFC 8996 deprecates everything older). */
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

/**
 * How every TLS socket of the server is set up, listeners and outgoing connections alike
 * (src/net/tls-settings.ts turns it into Node's options; docs/security.md explains the defaults).
 */
export interface TlsSettings {
  min_version: TlsVersion;
  max_version: TlsVersion;
  /** OpenSSL cipher list: TLS 1.2 suites and, as TLS_* names, the TLS 1.3 ones */
  ciphers: string;
  /** key exchange groups, colon-separated, or "auto" for OpenSSL's list */
  ecdh_curves: string;
  /** the server's order of ciphers wins over the client's */
  prefer_server_ciphers: boolean;
}

export interface ListenerConfig {
  enabled: boolean;
  /** addresses to bind; default ["0.0.0.0", "::"] style "any" is written as "*" */
  addresses: readonly string[];
  port: number;
}

export interface ParserLimits {
  /** largest stanza in bytes; c2s default 262144 (256 KiB), s2s 524288 (512 KiB) */
  max_stanza_bytes: number;
  /** deepest element nesting inside a stanza (stream root not counted) */
  max_depth: number;
  max_attributes: number;
  /** longest attribute value in bytes */
  max_attribute_bytes: number;
  /** longest single text node in bytes */
  max_text_bytes: number;
}

/** How fast a peer may send (a token bucket): reading pauses while it is over. */
export interface RateConfig {
  bytes_per_second: number;
  burst_bytes: number;
  stanzas_per_second: number;
  burst_stanzas: number;
}

export interface C2sConfig {
  /** STARTTLS required before authentication (RFC 6120 section 5.3.1) */
  require_tls: boolean;
  /** SASL mechanisms offered, in preference order; PLAIN only over TLS, the -PLUS ones only on a TLS stream with channel bindings */
  sasl_mechanisms: readonly ('SCRAM-SHA-256-PLUS' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1-PLUS' | 'SCRAM-SHA-1' | 'PLAIN')[];
  /** seconds a connection may take to authenticate */
  pre_auth_timeout: number;
  /** seconds without any traffic (whitespace keepalives count) before an authenticated stream is closed */
  idle_timeout: number;
  /** milliseconds added before answering a failed authentication, doubling per failure */
  auth_failure_delay: number;
  /** failed authentications allowed on one stream before it is closed */
  max_auth_failures: number;
  /** PBKDF2 iteration count for new SCRAM verifiers */
  scram_iterations: number;
  /** parser limits once authenticated */
  limits: ParserLimits;
  /** largest stanza before authentication */
  pre_auth_max_stanza_bytes: number;
  rate: RateConfig;
  /** connected resources one account may have */
  max_sessions_per_account: number;
  /** seconds of silence before a client is asked to answer, and seconds to wait for the answer */
  keepalive: { interval: number; timeout: number };
  /** XEP-0198 */
  stream_management: { enabled: boolean; resume_timeout: number };
  /** FAST tokens (XEP-0484) issued in SASL2 */
  fast: { enabled: boolean; token_lifetime: number; max_tokens_per_account: number };
  /** client state indication (XEP-0352): stanzas held back while a client says it is inactive */
  csi: { enabled: boolean; max_held: number };
  /** bytes of stanzas held for one session and for all of them */
  output: { session_buffer: number; total_buffer: number };
}

/** Features a host can run (src/modules/<name>); all run unless listed in modules_disabled. */
export const MODULE_NAMES = ['roster', 'presence', 'message', 'offline', 'disco', 'ping', 'version', 'vcard', 'private', 'blocking', 'register', 'strangers', 'carbons', 'last', 'time', 'pep', 'mam', 'push', 'extdisco', 'labels', 'adhoc', 'motd'] as const;
export type ModuleName = (typeof MODULE_NAMES)[number];

/** The kinds of contact address XEP-0157 section 4 registers, each published as `<kind>-addresses`. */
export type ContactAddressKind = keyof HostSettings['contact_addresses'];
export const CONTACT_ADDRESS_KINDS: readonly ContactAddressKind[] = ['abuse', 'admin', 'feedback', 'sales', 'security', 'status', 'support'];

/**
 * Settings of the IM features. Written at the top level they are the defaults of every host;
 * a host section may override each key.
 */
export interface HostSettings {
  modules_disabled: readonly ModuleName[];
  /** RFC 6121 section 2: most items in one roster; a roster set beyond it gets not-allowed */
  roster: { max_items: number };
  /** stored messages per user; when full, new ones bounce with service-unavailable */
  offline: { max_messages: number; max_bytes: number; max_per_sender: number };
  /**
   * chat and normal messages one sender may send per `window` seconds to users who do not have
   * it in their roster (src/modules/strangers); 0 turns the limit off
   */
  strangers: { max_messages: number; window: number };
  /** in-band registration (XEP-0077), off by default */
  registration: { enabled: boolean; max_per_ip_per_hour: number; invite_days: number; user_invites: 'off' | 'contact' | 'account' };
  /** software version (XEP-0092): hidden answers service-unavailable */
  version: { hidden: boolean };
  /** extra disco#items of the host (XEP-0030), e.g. services on other domains */
  disco: { items: readonly string[] };
  /** the message of the day clients get when they come online; empty: none (src/modules/motd) */
  motd: { text: string };
  /** bare JIDs that may run the host's administration commands (XEP-0133, src/modules/adhoc) */
  admins: readonly string[];
  /** addresses (URIs) to reach the host's operators, published in its disco#info (XEP-0157) */
  contact_addresses: {
    abuse: readonly string[];
    admin: readonly string[];
    feedback: readonly string[];
    sales: readonly string[];
    security: readonly string[];
    status: readonly string[];
    support: readonly string[];
  };
  /** what users and services on other servers may send here (docs/policy.md) */
  foreign_access: ForeignAccessRules;
  /** the group-chat service (XEP-0045) at `<subdomain>.<host>` (docs/muc.md) */
  muc: MucSettings;
  /** personal eventing (XEP-0163) on every account: the limits of each account's nodes (docs/pubsub.md) */
  pep: PepSettings;
  /** the publish-subscribe service (XEP-0060) at `<subdomain>.<host>` (docs/pubsub.md) */
  pubsub: PubsubSettings;
  /** message archives (XEP-0313) of users and group-chat rooms (docs/archive.md) */
  mam: MamSettings;
  /** push notifications to app servers (XEP-0357; docs/push.md) */
  push: PushSettings;
  /** HTTP file upload (XEP-0363) at `<subdomain>.<host>`, served by the HTTP listener (docs/web.md) */
  upload: UploadSettings;
  /** STUN and TURN servers announced to the host's users (XEP-0215), with short-lived TURN credentials */
  external_services: { services: readonly string[]; secret?: string; credential_lifetime: number };
}

export interface PepSettings {
  /** nodes one account keeps; publishing to one more is refused with not-allowed */
  max_nodes: number;
  /** items one node keeps at most; `max` in publish options means this */
  max_items: number;
  /** bytes of one published item; a larger one gets not-acceptable (payload-too-big) */
  max_item_bytes: number;
}

export interface PubsubSettings extends PepSettings {
  enabled: boolean;
  /** the service's domain is `<subdomain>.<host>` */
  subdomain: string;
  /** the service's name in service discovery */
  name: string;
  /** who may create nodes (the same choices as group-chat rooms) */
  node_creation: MucRoomCreation;
  /** subscriptions one node keeps */
  max_subscriptions: number;
}

/** What a push notification tells the app server beyond the count of unseen messages (XEP-0357 section 9). */
export interface PushSettings {
  include_sender: boolean;
  include_body: boolean;
  /** app servers one account may register */
  max_registrations: number;
}

/** Which messages a user's archive keeps when the user has said nothing (XEP-0441 section 3). */
export const MAM_DEFAULTS = ['always', 'roster', 'never'] as const;
export type MamDefault = (typeof MAM_DEFAULTS)[number];

export interface MamSettings {
  /** a user's archiving preference until the user sets one */
  default: MamDefault;
  /** days a message stays in an archive; 0 keeps messages until max_messages pushes them out */
  max_age_days: number;
  /** messages one archive (a user's or a room's) keeps; the oldest go first */
  max_messages: number;
  /** results in one page when the client asks for no number, and the most it may ask for */
  page_size: number;
  max_page_size: number;
  /** seconds between retention passes (expiry by age, trimming to max_messages) */
  retention_interval: number;
  /** group-chat rooms archive their messages (XEP-0313 section 3.3.2) */
  rooms: boolean;
}

export interface UploadSettings {
  /** serve upload at `<subdomain>.<host>` (only while the HTTP listener is enabled) */
  enabled: boolean;
  subdomain: string;
  /** the service's name in service discovery */
  name: string;
  /** largest file in bytes; a bigger request gets file-too-large with this number */
  max_file_size: number;
  /** bytes of unexpired files one user may hold; 0: no quota */
  quota: number;
  /** seconds a file is kept after its upload */
  expire_after: number;
  /** seconds a slot's PUT URL stays valid */
  slot_lifetime: number;
  /** where files are stored: relative to data_dir unless absolute, one folder per service */
  directory: string;
  /** when set, GET URLs start with it instead of this server's URL (files served by another web server from `directory`) */
  external_url?: string;
}

/** Who may create rooms: users of any host of this server, of the service's own host only, or anyone (remote users too). */
export const MUC_ROOM_CREATION = ['local', 'host', 'anyone'] as const;
export type MucRoomCreation = (typeof MUC_ROOM_CREATION)[number];

export interface MucSettings {
  enabled: boolean;
  /** the service's domain is `<subdomain>.<host>` */
  subdomain: string;
  /** the service's name in service discovery */
  name: string;
  room_creation: MucRoomCreation;
  /** rooms the service holds at once, persistent and temporary together */
  max_rooms: number;
  /** occupants (nicknames) one room holds; a room's own limit may only be lower */
  max_occupants: number;
  /** messages a room keeps for newcomers when created; its owner may change it up to max_history */
  history_length: number;
  max_history: number;
  /** affiliations (owners, admins, members, outcasts) one room keeps */
  max_affiliations: number;
}

/** The feature groups `foreign_access` entries may name; what each matches is in src/policy/foreign-groups.ts. */
export const FEATURE_GROUP_NAMES = ['message', 'presence', 'iq', 'chat', 'groupchat', 'presence-subscription', 'file-transfer', 'jingle', 'pubsub', 'vcard', 'version', 'disco'] as const;
export type FeatureGroupName = (typeof FEATURE_GROUP_NAMES)[number];

export function isFeatureGroup(name: string): name is FeatureGroupName {
  return (FEATURE_GROUP_NAMES as readonly string[]).includes(name);
}

/**
 * Which stanzas from other servers a host accepts: entries are feature groups or namespaces
 * (src/policy/foreign-groups.ts); the most specific match decides, deny on a tie, else `default`.
 */
export interface ForeignAccessRules {
  default: 'allow' | 'deny';
  deny: readonly string[];
  allow: readonly string[];
}

/**
 * How strongly a remote server must prove itself (the four federation levels):
 * - permissive: accept what the peer claims (closed labs only);
 * - verified: server dialback (XEP-0220) at least;
 * - encrypted: TLS, then dialback or a certificate;
 * - trusted: TLS with a certificate that chains to a trusted CA and names the domain.
 */
export const FEDERATION_LEVELS = ['permissive', 'verified', 'encrypted', 'trusted'] as const;
export type FederationLevel = (typeof FEDERATION_LEVELS)[number];

export interface S2sPeerRule {
  /** an exact domain, or "*.example.com" for every subdomain of example.com */
  domain: string;
  level: FederationLevel;
}

/** What a peering rule covers: one domain, its subdomains, both, or every domain no other rule covers. */
export type PeeringScope = 'exact' | 'subdomains' | 'domain-and-subdomains' | 'default';

/** Where stanzas for a remote domain go: the servers of another domain (found by DNS), or a host and port. */
export type NextHopConfig = { kind: 'domain'; domain: string } | { kind: 'address'; host: string; port: number };

/** Stanza kinds a peering rule may allow (RFC 6120 section 8). */
export const STANZA_KINDS = ['message', 'presence', 'iq'] as const;
export type StanzaKind = (typeof STANZA_KINDS)[number];

/** Traffic classes a peering rule may block, recognised by namespace (src/policy/traffic-classes.ts). */
export const PEERING_BLOCKS = ['file-transfer', 'muc', 'one-to-one', 'encrypted'] as const;
export type PeeringBlock = (typeof PEERING_BLOCKS)[number];

/** How far presence is folded: not at all, to available/unavailable, keeping away, keeping away and dnd. */
export const PRESENCE_FOLDINGS = ['off', 'available', 'away', 'away-dnd'] as const;
export type PresenceFolding = (typeof PRESENCE_FOLDINGS)[number];

/** Message types a peering rule may drop whole (RFC 6121 section 5.2.2). */
export const MESSAGE_TYPES = ['chat', 'normal', 'groupchat', 'headline'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/**
 * The checks and actions of a peering rule (docs/peering.md, "Checks and actions"), applied to
 * every stanza to or from the domains it covers, in both directions. Each is set per rule; for
 * each one the most specific rule that writes it decides, so a narrower rule can turn off what
 * `"*"` turns on. Absent: not checked.
 */
export interface PeeringChecks {
  /** the pair's connection must be TLS-protected */
  require_tls?: boolean;
  /** the pair must be proven with SASL EXTERNAL and a certificate that chains to a trusted CA */
  require_strong_auth?: boolean;
  /** only these kinds cross */
  stanza_kinds?: readonly StanzaKind[];
  /** traffic classes refused */
  block?: readonly PeeringBlock[];
  fold_presence?: PresenceFolding;
  /** namespaces of message children removed (never body, subject, thread, error or a security label) */
  strip_elements?: readonly string[];
  /** chat states (XEP-0085) removed, and a message with nothing else dropped */
  drop_chat_states?: boolean;
  /** message types dropped whole */
  drop_message_types?: readonly MessageType[];
  /** largest message, serialized, in bytes */
  max_message_bytes?: number;
  /** JID patterns (jid-patterns.ts): when written, only these senders; then only these recipients */
  senders?: readonly string[];
  recipients?: readonly string[];
  deny_senders?: readonly string[];
  deny_recipients?: readonly string[];
  /** what a refused stanza gets: an error back to its sender (bounce), or nothing (drop) */
  refusal?: 'bounce' | 'drop';
  /** the clearance of the peer server (a label text of the governing security policy, `s2s.security_labels`) */
  clearance?: string;
  /** the security policy that governs these domains: labels toward them are mapped into it */
  label_policy?: string;
  /** disco features (namespaces) hidden from these domains and refused to and from them */
  hide_features?: readonly string[];
}

/** Every key of PeeringChecks, in the order the checks are documented. */
export const PEERING_CHECK_KEYS = [
  'require_tls',
  'require_strong_auth',
  'stanza_kinds',
  'block',
  'fold_presence',
  'strip_elements',
  'drop_chat_states',
  'drop_message_types',
  'max_message_bytes',
  'senders',
  'recipients',
  'deny_senders',
  'deny_recipients',
  'refusal',
  'clearance',
  'label_policy',
  'hide_features',
] as const satisfies readonly (keyof PeeringChecks)[];

/** The audit trail and alerts of peering rules (docs/peering.md, "Audit and alerts"). */
export interface S2sPeeringAuditConfig {
  /** refusals written to storage */
  enabled: boolean;
  /** folding and dropped message types written too */
  record_actions: boolean;
  retention_days: number;
  max_records: number;
  /** seconds between writes of what was decided */
  write_interval: number;
  /** http(s) URL each alert is POSTed to as JSON */
  webhook?: string;
  /** seconds one webhook call may take */
  webhook_timeout: number;
}

/**
 * One security policy of `s2s.security_labels` (XEP-0258; docs/labels.md): ordered
 * classifications and categories. A label or clearance is written "classification category...".
 */
export interface SecurityPolicyConfig {
  name: string;
  /** lowest first */
  classifications: readonly string[];
  categories: readonly string[];
  /** the label of an unlabelled message; without it such a message is refused */
  default_label?: string;
  /** the clearance of whoever has none configured; without it they are cleared for nothing */
  default_clearance?: string;
  /** ESS security labels this policy knows, each as one of its labels */
  ess: readonly EssLabelConfig[];
  /** the labels offered to clients in the catalog; empty: one per classification */
  catalog: readonly string[];
  /** for a policy other than the governing one: "governing = this" pairs of classifications and of categories */
  equivalence: { classifications: readonly string[]; categories: readonly string[] };
}

/** Security labels (XEP-0258) on what crosses to and from other servers (docs/labels.md). */
export interface SecurityLabelsConfig {
  /** the name of the policy that governs this server: its users' labels and every clearance */
  policy: string;
  policies: readonly SecurityPolicyConfig[];
  /** clearances by JID pattern (accounts, group:NAME, domains), the first that matches decides */
  clearances: readonly ClearanceConfig[];
  /** whether messages between two users of this server are checked too */
  local: boolean;
  /** the rooms of this server's group-chat services that have a clearance, by JID pattern; the first that matches decides */
  rooms: readonly RoomLabelsConfig[];
}

/** A room's clearance (the labels its messages may carry) and label (what its occupants must be cleared for). */
export interface RoomLabelsConfig {
  who: string;
  clearance: string;
  label?: string;
}

/** An ESS security label (RFC 2634) as its base64 text, and the label of its policy it stands for. */
export interface EssLabelConfig {
  encoding: string;
  label: string;
}

/** The clearance of the addresses a JID pattern covers. */
export interface ClearanceConfig {
  who: string;
  clearance: string;
}

/** A named group of local users that JID patterns name as `group:NAME`. */
export interface PeeringGroup {
  name: string;
  /** bare JIDs */
  members: readonly string[];
}

/** One peering rule (docs/peering.md): for each of level, access and route, the most specific rule that sets it decides. */
export interface S2sPeeringRule extends PeeringChecks {
  /** the key as prepared: "example.com", "*.example.com", or "*" for the default */
  domain: string;
  /** with a domain key: the domain and every subdomain of it */
  subdomains: boolean;
  level?: FederationLevel;
  /** deny: no federation with the domains, either way */
  access?: 'allow' | 'deny';
  /** direct: by the domains' own DNS records; reject: stanzas for them bounce */
  route?: 'direct' | 'reject';
  /** a next hop for the domains' stanzas (a route); never with route: reject */
  via?: NextHopConfig;
  /** the name of a configured link (`links`) that carries the domains' stanzas (a route) */
  link?: string;
  /** a trunk peer (a domain key only): the domain patterns it may send stanzas from, and relays stanzas to */
  speaks_for?: readonly string[];
  /** fronted (a domain key with via): this server answers for the domain toward plain peers and relays to its server behind */
  front?: boolean;
}

/** Allow and deny lists of foreign servers; deny wins, and a non-empty allow list admits only what it names. */
export interface S2sAccessConfig {
  /** domains refused, exact or "*.example.com" */
  deny_domains: readonly string[];
  /** when not empty, only these domains may federate */
  allow_domains: readonly string[];
  /** IP addresses or CIDR ranges refused */
  deny_addresses: readonly string[];
  /** when not empty, only these addresses or ranges may federate */
  allow_addresses: readonly string[];
}

/** Ways a remote host may prove it speaks for a domain, besides a certificate naming it. */
export const DELEGATION_METHODS = ['dnssec_srv', 'dane', 'posh', 'host_activation'] as const;
export type DelegationMethodName = (typeof DELEGATION_METHODS)[number];

/** src/delegation: DNSSEC-signed SRV, DANE, POSH and host activation proofs (docs/federation.md). */
export interface S2sDelegationConfig {
  methods: readonly DelegationMethodName[];
  /** validating resolvers whose AD bit is believed; empty turns dnssec_srv and dane off */
  resolvers: readonly string[];
  /** seconds per answer */
  resolver_timeout: number;
  /** remote domains, exact or "*.example.com", whose unsigned SRV record counts as a delegation */
  accept_unsigned_srv: readonly string[];
  posh: {
    /** absolute paths of PEM CA files trusted for the HTTPS servers */
    ca_files: readonly string[];
    use_system_ca: boolean;
    /** seconds per lookup */
    timeout: number;
    max_bytes: number;
    cache_entries: number;
    /** seconds */
    max_cache_time: number;
  };
}

export interface S2sConfig {
  enabled: boolean;
  /** the level every remote domain must reach unless a peer rule says otherwise */
  min_level: FederationLevel;
  /** per remote domain overrides, exact or wildcard; the most specific match wins */
  peers: readonly S2sPeerRule[];
  /** peering rules by remote domain pattern, in the order written */
  peering: readonly S2sPeeringRule[];
  /** groups of local users named in peering rules' JID patterns */
  peering_groups: readonly PeeringGroup[];
  peering_audit: S2sPeeringAuditConfig;
  /** servers a relayed stanza may have crossed before it is refused as looping */
  relay_hop_limit: number;
  /** security labels (XEP-0258) checked on what crosses; absent: labels are not looked at */
  security_labels?: SecurityLabelsConfig;
  /** PEM CA files trusted for peer certificates, besides the system store when use_system_ca */
  ca_files: readonly string[];
  use_system_ca: boolean;
  /** secret for dialback keys (XEP-0185); when absent one is generated and kept in storage */
  dialback_secret?: string;
  /** seconds to wait for a TCP connection to one address */
  connect_timeout: number;
  /** seconds a new stream may take to authenticate, both directions */
  negotiation_timeout: number;
  /** seconds without traffic before a server stream is closed */
  idle_timeout: number;
  /** XEP-0288: offer and ask for bidirectional connections */
  bidi: boolean;
  /** several domain pairs on one outgoing connection; false: a connection per pair */
  multiplex: boolean;
  /** stanzas waiting per remote domain while its connection is being set up */
  queue_max_stanzas: number;
  /** seconds to wait before retrying a remote domain that failed, doubling up to retry_max_delay */
  retry_initial_delay: number;
  retry_max_delay: number;
  limits: ParserLimits;
  rate: RateConfig;
  /** a connection carrying several inbound domain pairs reads at `rate` times their number, up to this many */
  rate_pairs_max: number;
  /** bytes held for remote servers until they have them, per connection and in all */
  output: { connection_buffer: number; total_buffer: number };
  access: S2sAccessConfig;
  delegation: S2sDelegationConfig;
  /** streams named after the two hosts, with Trellis peers that offer them (docs/protocols/host-named-streams.md) */
  host_streams: S2sHostStreamsConfig;
}

/** Host-named streams: our host's name and the certificate that proves it. */
export interface S2sHostStreamsConfig {
  enabled: boolean;
  /** our host's name; when absent, the first hosted domain */
  name?: string;
  /** the certificate naming `name`; when absent, that hosted domain's own */
  tls?: TlsFiles;
}

/** Connection and authentication limits (docs/security.md); 0 turns a count or size limit off. */
export interface LimitsConfig {
  /** client connections at once from one IPv4 address or IPv6 /64 */
  c2s_per_address: number;
  /** incoming server connections at once from one IPv4 address or IPv6 /64 */
  s2s_per_address: number;
  /** component connections at once from one IPv4 address or IPv6 /64 */
  component_per_address: number;
  /** how fast one address may open incoming server connections, and the refusal periods after */
  s2s_new_connections: NewConnectionsConfig;
  /** client connections not yet authenticated, all addresses together */
  c2s_unauthenticated: number;
  /** refuse new connections from this share of the soft open-file limit; 100 is off */
  max_open_files_percent: number;
  /** refuse new connections from this share of V8's heap limit; 100 is off */
  max_heap_percent: number;
  /** refuse new connections above this resident memory in MiB; 0 is 90% of what the process may use */
  max_memory_mib: number;
  /** seconds between two warnings about the same limit and address */
  log_interval: number;
  auth: AuthLimitsConfig;
}

/** New incoming server connections per address: a token bucket, then refusal periods that double. */
export interface NewConnectionsConfig {
  /** connections in a burst, refilled at this many per `window`; 0 is off */
  per_address: number;
  /** seconds over which `per_address` connections are refilled */
  window: number;
  /** seconds of the first refusal period */
  backoff: number;
  /** seconds of the longest refusal period, and of good behaviour after which the doubling starts over */
  backoff_max: number;
  /** refused connections per address held unanswered until the period ends; more are refused at once */
  held_per_address: number;
}

/** Failed logins counted across streams. */
export interface AuthLimitsConfig {
  /** seconds over which failures are counted */
  window: number;
  /** seconds a block lasts */
  block_duration: number;
  max_failures_per_address: number;
  max_failures_per_account_address: number;
  max_failures_per_account: number;
}

export interface DnsConfig {
  /** resolvers to ask ("ip" or "ip:port"); empty means the system's */
  servers: readonly string[];
  /** seconds per query */
  timeout: number;
  /** address answers kept in the server; 0 disables the cache */
  cache_entries: number;
}

export interface AdminConfig {
  /** serve the admin API (HTTP with JSON over a unix domain socket) */
  enabled: boolean;
  /** absolute path of the socket; written relative to data_dir */
  socket: string;
}

export interface HostConfig extends HostSettings {
  /** the domain, prepared (RFC 7622 section 3.2) */
  domain: string;
  /** certificate for this domain; when absent a self-signed one is generated under data_dir */
  tls?: TlsFiles;
}

export interface StorageConfig {
  driver: 'sqlite' | 'postgres';
  /** SQLite database file, relative to data_dir unless absolute */
  sqlite_file: string;
  /** PostgreSQL connection string (postgres://user:pass@host:port/db) */
  postgres_url?: string;
}

/** Several nodes serving the same hosts (docs/cluster.md). */
export interface ClusterConfig {
  /** this node's name, unique in the cluster */
  node: string;
  /** redis://[:password@]host:port[/db] */
  redis_url: string;
  /** prefix of every Redis key */
  key_prefix: string;
  /** milliseconds between two renewals of this node's registration */
  heartbeat_interval_ms: number;
  /** milliseconds a registration lasts without renewal */
  lease_ms: number;
  /** stanzas waiting in one node's inbox at most */
  inbox_max_entries: number;
}

export interface TrellisConfig extends HostSettings {
  /** the file this configuration came from, absolute; undefined when built from defaults */
  source?: string;
  /** edge: no local accounts or client listeners, only server connections and relaying (docs/peering.md) */
  mode: 'server' | 'edge';
  /** directory for the database, generated certificates and secrets; relative paths resolve against the config file's directory */
  data_dir: string;
  log: { level: LogLevel; format: 'text' | 'json' };
  listeners: {
    c2s: ListenerConfig;
    /** direct TLS for clients (XEP-0368), off by default */
    c2s_direct_tls: ListenerConfig;
    /** server-to-server with STARTTLS (RFC 6120) */
    s2s: ListenerConfig;
    /** direct TLS for servers (XEP-0368), off by default */
    s2s_direct_tls: ListenerConfig;
    /** external components (XEP-0114), opened only when `components` names one; 127.0.0.1:5347 by default */
    component: ListenerConfig;
  };
  storage: StorageConfig;
  /** default certificate when a host has none of its own */
  tls?: TlsFiles;
  /** protocol versions, ciphers and groups of every TLS socket */
  tls_settings: TlsSettings;
  /** several nodes serving the same hosts; undefined for a single node */
  cluster?: ClusterConfig;
  c2s: C2sConfig;
  s2s: S2sConfig;
  limits: LimitsConfig;
  dns: DnsConfig;
  admin: AdminConfig;
  /** how component streams are handled */
  component: ComponentStreamConfig;
  /** external components, in the order written */
  components: readonly ComponentConfig[];
  /** links to peer servers configured at both ends (docs/links.md), in the order written */
  links: readonly LinkConfig[];
  /** the HTTP listener: WebSocket clients, host-meta, file upload (docs/web.md) */
  http: HttpConfig;
  hosts: readonly HostConfig[];
}

/** TLS on a link: this side's certificate, and how the peer's is checked (a pinned certificate or a trust anchor). */
export interface LinkTlsConfig {
  certificate: string;
  key: string;
  /** PEM file of the one certificate the peer must present */
  peer_certificate?: string;
  /** PEM file of the CA certificates the peer's must chain to */
  ca_file?: string;
}

/** The guard-friendly output of a link (docs/links.md). */
export interface LinkGuardConfig {
  /** one top-level element per line, no namespace prefixes beyond the implicit defaults */
  enabled: boolean;
  /** whitespace keepalives may be written */
  whitespace_keepalives: boolean;
}

/** How a link of protocol s2s secures and authenticates its server-to-server streams (docs/links.md). */
export interface LinkS2sConfig {
  /** required: TLS before anything else; optional: TLS when the peer offers it */
  tls: 'required' | 'optional';
  /** TLS from the first byte (XEP-0368) rather than STARTTLS */
  direct_tls: boolean;
  authentication: 'any' | 'dialback' | 'sasl_external';
  /** PEM file of the one certificate the peer must present */
  peer_certificate?: string;
  /** PEM file of the CA certificates the peer's must chain to, in place of s2s.ca_files */
  ca_file?: string;
  connect_timeout: number;
  negotiation_timeout: number;
}

/** A named link to a peer server (docs/links.md): zero handshake (XEP-0361), or server-to-server streams with settings of their own. */
export interface LinkConfig {
  name: string;
  protocol: 'xep0361' | 's2s';
  transport: 'tcp' | 'tls';
  /** out: this side connects to `address`; in: this side listens on `address`; both: connects to `address` and listens on `listen` */
  connect: 'out' | 'in' | 'both';
  /** "host:port" or "[ipv6]:port" (src/config/link-names.ts) */
  address: string;
  /** with connect: both, where this side listens for the peer's connection */
  listen?: string;
  /** with connect: in, the addresses or ranges the peer may connect from; empty: any */
  peer_addresses: readonly string[];
  /** how the peer is known (XEP-0361 section 4.2) */
  identity: 'address' | 'certificate';
  /** domains (or "*.domain" patterns) this side speaks for on the link */
  local_domains: readonly string[];
  /** domains (or "*.domain" patterns) the peer speaks for */
  remote_domains: readonly string[];
  tls?: LinkTlsConfig;
  /** with protocol: s2s, its stream's settings */
  s2s?: LinkS2sConfig;
  /** seconds between keepalives when nothing else is written; 0: none */
  keepalive: number;
  reconnect_initial_delay: number;
  reconnect_max_delay: number;
  /** seconds a message may wait for the link before its sender gets an error */
  expiry: number;
  queue_max_messages: number;
  queue_max_bytes: number;
  /** largest element either way, in bytes */
  max_stanza_bytes: number;
  guard: LinkGuardConfig;
}

/** The HTTP listener (src/net/http-listener.ts) and what it serves. */
export interface HttpConfig extends ListenerConfig {
  /** HTTPS with the hosts' certificates by SNI; false: plain HTTP, only on loopback addresses or behind trusted_proxies */
  tls: boolean;
  /** addresses or CIDR ranges of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed */
  trusted_proxies: readonly string[];
  /** the base URL clients reach the listener at (behind a proxy); absent: https://<domain>:<port> */
  public_url?: string;
  max_connections: number;
  max_header_bytes: number;
  /** seconds to receive a request's headers, the whole request, and between requests on a kept-alive connection */
  header_timeout: number;
  request_timeout: number;
  idle_timeout: number;
  /** WebSocket client connections (RFC 7395) */
  websocket: { enabled: boolean; path: string; see_other_uri?: string };
  /** the web console at /admin/ (docs/console.md) */
  console: ConsoleConfig;
}

/** The web console (docs/console.md, src/console). */
export interface ConsoleConfig {
  enabled: boolean;
  /** bare JIDs, prepared, of the accounts that may log in */
  admins: readonly string[];
  /** seconds a login lasts, and without a request */
  session_lifetime: number;
  idle_timeout: number;
  max_sessions: number;
  max_event_streams: number;
}

/** Streams of external components (XEP-0114). */
export interface ComponentStreamConfig {
  /** seconds to send the stream header and a correct handshake */
  handshake_timeout: number;
  /** largest element before the handshake succeeded */
  pre_handshake_max_stanza_bytes: number;
  limits: ParserLimits;
  rate: RateConfig;
  /** seconds stanzas wait for a dropped component to reconnect; 0 bounces at once */
  reconnect_hold: number;
  /** stanzas held per component meanwhile */
  hold_max_stanzas: number;
}

/** One external component: the domain it serves and the secret of its handshake. */
export interface ComponentConfig {
  domain: string;
  secret: string;
}
