/**
 * Configurations of the per-hop latency benchmark (bench/hops.ts), after the boundary of
 * docs/peering.md ("A boundary"): leaf A → edge B → edge C → leaf D, or the two leaves linked
 * directly. The leaves are the boundary's leaves (no checks of their own; clients on plain TCP);
 * only the route differs between the two topologies, so the difference between them is the two
 * relaying servers and the extra links. Each edge applies every per-rule check to what crosses
 * to and from the other side (docs/peering.md, "Checks and actions"): TLS required, the level,
 * the stanza kinds allowed, the file-transfer block, the size limit, presence folding, stripped
 * elements and chat states, JID rules, security labels (XEP-0258) mapped between two policies,
 * and the audit trail with actions recorded. Every link is TLS with SASL EXTERNAL
 * (`min_level: trusted`), certificates from one throwaway CA.
 */
import { C2S_PORT, S2S_PORT } from '../federation/peer.ts';

export const DOMAINS = { a: 'leaf-a.test', b: 'edge-b.test', c: 'edge-c.test', d: 'leaf-d.test' } as const;
export type Node = keyof typeof DOMAINS;
export const ADDRESSES: Record<Node, string> = { a: '127.0.74.1', b: '127.0.74.2', c: '127.0.74.3', d: '127.0.74.4' };

export interface Files {
  caFile: string;
  certificates: Record<Node, { certFile: string; keyFile: string }>;
}

const quote = JSON.stringify;
const hop = (node: Node) => quote(`${ADDRESSES[node]}:${S2S_PORT}`);
/** the benchmark's read rates are lifted, as in the federation benchmark (bench/federation/trellis-peer.ts) */
const LIFTED_RATE = 'rate: { bytes_per_second: 1073741824, burst_bytes: 1073741824, stanzas_per_second: 10000000, burst_stanzas: 10000000 }';

function common(dir: string, node: Node, files: Files): string {
  const { certFile, keyFile } = files.certificates[node];
  return `data_dir: ${quote(dir)}
log: { level: warn }
http: { enabled: false }
storage: { driver: sqlite, sqlite_file: trellis.sqlite }
hosts:
  ${DOMAINS[node]}: { tls: { certificate: ${quote(certFile)}, key: ${quote(keyFile)} } }
`;
}

/**
 * Every server link here is a trunk carrying all of the run's messages, so it is sized as
 * docs/peering.md ("Sizing a trunk") says: a few seconds of its traffic may wait for the peer.
 * With the default 2 MiB, the first seconds at 5,000 msg/s (code not yet optimized, the young
 * generation still growing) bounced a few thousand messages in 4 of 7 runs on 4 December.
 */
const TRUNK_OUTPUT = 'output: { connection_buffer: 8388608 }';

function s2sHead(files: Files): string {
  return `s2s:
  min_level: trusted
  ca_files: [${quote(files.caFile)}]
  use_system_ca: false
  ${LIFTED_RATE}
  ${TRUNK_OUTPUT}
`;
}

/** where the forwarders take a link from D back towards A */
const BACK_PORT = 5290;
export interface Endpoint {
  address: string;
  port: number;
}
/**
 * The `forwarded` case's byte forwarders (forwarder.ts), one process on each edge's address:
 * A's link to D goes B:5269 → C:5269 → D:5269, D's to A C:5290 → B:5290 → A:5269, so both
 * directions cross both processes.
 */
export const FORWARDS: Record<'b' | 'c', { listen: Endpoint; target: Endpoint }[]> = {
  b: [
    { listen: { address: ADDRESSES.b, port: S2S_PORT }, target: { address: ADDRESSES.c, port: S2S_PORT } },
    { listen: { address: ADDRESSES.b, port: BACK_PORT }, target: { address: ADDRESSES.a, port: S2S_PORT } },
  ],
  c: [
    { listen: { address: ADDRESSES.c, port: S2S_PORT }, target: { address: ADDRESSES.d, port: S2S_PORT } },
    { listen: { address: ADDRESSES.c, port: BACK_PORT }, target: { address: ADDRESSES.b, port: BACK_PORT } },
  ],
};
const FORWARDED_VIA = { a: quote(`${ADDRESSES.b}:${S2S_PORT}`), d: quote(`${ADDRESSES.c}:${BACK_PORT}`) };

/**
 * A leaf: clients and one route, to the other leaf directly, through the two byte forwarders
 * (the other leaf's own link, end to end), or to its edge (a trunk for every domain).
 */
export function leafYaml(dir: string, node: 'a' | 'd', topology: 'direct' | 'forwarded' | 'chain', files: Files): string {
  const other = node === 'a' ? 'd' : 'a';
  const edge = node === 'a' ? 'b' : 'c';
  const peering =
    topology === 'direct'
      ? `    ${DOMAINS[other]}: { via: ${hop(other)} }\n    "*": { route: reject }\n`
      : topology === 'forwarded'
        ? `    ${DOMAINS[other]}: { via: ${FORWARDED_VIA[node]} }\n    "*": { route: reject }\n`
        : `    ${DOMAINS[edge]}: { via: ${hop(edge)}, speaks_for: ["*"] }\n    "*": { via: ${DOMAINS[edge]} }\n`;
  return `# Generated for one per-hop latency benchmark run: leaf ${node.toUpperCase()}, ${topology}.
${common(dir, node, files)}listeners:
  c2s: { addresses: [${quote(ADDRESSES[node])}], port: ${C2S_PORT} }
  c2s_direct_tls: { enabled: false }
  s2s: { addresses: [${quote(ADDRESSES[node])}], port: ${S2S_PORT} }
  s2s_direct_tls: { enabled: false }
c2s:
  require_tls: false
  sasl_mechanisms: [SCRAM-SHA-1]
  scram_iterations: 4096
  ${LIFTED_RATE}
# Every benchmark client connects from one address, and they log in at once.
limits: { c2s_per_address: 0, c2s_unauthenticated: 0 }
# The benchmark users write to each other without rosters.
strangers: { max_messages: 0 }
# As the Prosody and ejabberd cases run: without message archives (XEP-0313).
modules_disabled: [mam]
${s2sHead(files)}  peering:
${peering}`;
}

/** The two label policies of the boundary, lowest classification first; each edge decides under its own network's. */
const CLASSIFICATIONS = { n1: ['unclassified', 'restricted', 'secret'], n2: ['public', 'internal', 'confidential'] } as const;

/** An edge: relays between its own leaf and the other edge, with every check on the other side's rule. */
export function edgeYaml(dir: string, node: 'b' | 'c', files: Files): string {
  const own = node === 'b' ? { leaf: 'a' as const, edge: 'c' as const, policy: 'n1' as const, other: 'n2' as const } : { leaf: 'd' as const, edge: 'b' as const, policy: 'n2' as const, other: 'n1' as const };
  const farLeaf = own.leaf === 'a' ? 'd' : 'a';
  const [lowest, middle, highest] = CLASSIFICATIONS[own.policy];
  // "own = other" for each level, as the boundary writes the other policy's equivalence
  const equivalence = CLASSIFICATIONS[own.policy].map((name, index) => quote(`${name} = ${CLASSIFICATIONS[own.other][index]}`)).join(', ');
  const users = `["*@${DOMAINS.a}", "*@${DOMAINS.d}"]`;
  return `# Generated for one per-hop latency benchmark run: edge ${node.toUpperCase()}.
mode: edge
${common(dir, node, files)}listeners:
  s2s: { addresses: [${quote(ADDRESSES[node])}], port: ${S2S_PORT} }
  s2s_direct_tls: { enabled: false }
${s2sHead(files)}  peering_audit: { record_actions: true }
  peering:
    ${DOMAINS[own.leaf]}: { via: ${hop(own.leaf)}, clearance: ${highest} }
    ${DOMAINS[own.edge]}: { via: ${hop(own.edge)}, speaks_for: [${DOMAINS[farLeaf]}] }
    ${DOMAINS[farLeaf]}:
      via: ${DOMAINS[own.edge]}
      level: trusted
      require_tls: true
      stanza_kinds: [message, presence, iq]
      block: [file-transfer]
      max_message_bytes: 2048
      fold_presence: available
      strip_elements: ["http://jabber.org/protocol/xhtml-im"]
      drop_chat_states: true
      drop_message_types: [headline]
      senders: ${users}
      recipients: ${users}
      deny_senders: ["mallory@${DOMAINS.a}", "mallory@${DOMAINS.d}"]
      clearance: ${middle}
      label_policy: ${own.other}
    "*": { route: reject }
  security_labels:
    policy: ${own.policy}
    policies:
      ${own.policy}:
        classifications: [${CLASSIFICATIONS[own.policy].join(', ')}]
        default_label: ${lowest}
        default_clearance: ${lowest}
      ${own.other}:
        classifications: [${CLASSIFICATIONS[own.other].join(', ')}]
        equivalence:
          classifications: [${equivalence}]
    clearances:
      "*@${DOMAINS[own.leaf]}": { clearance: ${highest} }
      "*@${DOMAINS[farLeaf]}": { clearance: ${middle} }
`;
}
