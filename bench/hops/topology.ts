/**
 * Starts the Trellis servers of the per-hop latency benchmark: the two leaves linked directly,
 * linked through two processes that only move bytes (forwarder.ts), or the chain leaf A → edge B
 * → edge C → leaf D (chain-configs.ts), each server a `bin/trellis start` process with its own
 * data directory; certificates for the four domains from one throwaway CA.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createTestCa, writeCertificateFiles } from '../../test/support/lab/ca.ts';
import { C2S_PORT, S2S_PORT, type FederationPeer } from '../federation/peer.ts';
import { startTrellisProcess } from '../federation/trellis-process.ts';
import { startDaemon, waitForListener } from '../servers/daemon.ts';
import { ADDRESSES, DOMAINS, edgeYaml, FORWARDS, leafYaml, type Endpoint, type Files, type Node } from './chain-configs.ts';

/** A process between the leaves: an edge, or a byte forwarder. */
export interface Relay {
  name: string;
  pid: number;
  stop(): Promise<void>;
}

export interface Topology {
  /** the leaves, where the clients are */
  a: FederationPeer;
  d: FederationPeer;
  /** the relaying edges or forwarders, in the order a stanza from A crosses them; none when direct */
  relays: Relay[];
  stop(): Promise<void>;
}

export async function writeChainCertificates(dir: string): Promise<Files> {
  const ca = await createTestCa('Trellis Hops Bench CA');
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  const certificates = {} as Files['certificates'];
  for (const node of Object.keys(DOMAINS) as Node[]) certificates[node] = writeCertificateFiles(dir, DOMAINS[node], await ca.issue({ names: [DOMAINS[node]] }));
  return { caFile, certificates };
}

export interface TopologyOptions {
  files: Files;
  usernames: string[];
  password: string;
  /** Node options for edge B, e.g. --cpu-prof */
  edgeNodeOptions?: string;
  /** when set, each server's output is copied there when it stops */
  keepLogIn?: string;
}

export async function startTopology(kind: 'direct' | 'forwarded' | 'chain', options: TopologyOptions): Promise<Topology> {
  const started: Relay[] = [];
  const stopAll = () => Promise.all(started.map((peer) => peer.stop())).then(() => {});
  try {
    const relays: Relay[] = [];
    if (kind === 'forwarded') {
      for (const node of ['b', 'c'] as const) {
        // beside the certificates, in the run's directory, which the benchmark removes
        const forwarder = await startForwarder(`forwarder-${node}`, FORWARDS[node], dirname(options.files.caFile));
        started.push(forwarder);
        relays.push(forwarder);
      }
    }
    if (kind === 'chain') {
      for (const node of ['b', 'c'] as const) {
        const edge = await startTrellisProcess({
          name: `trellis-${node}`,
          address: ADDRESSES[node],
          ports: [S2S_PORT],
          yaml: (dir) => edgeYaml(dir, node, options.files),
          accounts: [],
          password: options.password,
          nodeOptions: node === 'b' ? options.edgeNodeOptions : undefined,
          keepLogIn: options.keepLogIn,
        });
        started.push(edge);
        relays.push(edge);
      }
    }
    const leaf = async (node: 'a' | 'd') => {
      const peer = await startTrellisProcess({
        name: `trellis-${node}`,
        address: ADDRESSES[node],
        ports: [C2S_PORT, S2S_PORT],
        yaml: (dir) => leafYaml(dir, node, kind, options.files),
        accounts: [{ domain: DOMAINS[node], usernames: options.usernames }],
        password: options.password,
        keepLogIn: options.keepLogIn,
      });
      started.push(peer);
      return peer;
    };
    const a = await leaf('a');
    const d = await leaf('d');
    return { a, d, relays, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** A forwarder.ts process (a bench daemon, so an interrupted run stops it too), ready once each of its listeners listens. */
async function startForwarder(name: string, forwards: readonly { listen: Endpoint; target: Endpoint }[], dir: string): Promise<Relay> {
  const argument = ({ listen, target }: { listen: Endpoint; target: Endpoint }) => `${listen.address}:${listen.port}=${target.address}:${target.port}`;
  const daemon = startDaemon(name, process.execPath, [join(import.meta.dirname, 'forwarder.ts'), ...forwards.map(argument)], { cwd: dir, outputFile: join(dir, `${name}.out`) });
  try {
    for (const { listen } of forwards) await waitForListener(daemon, listen.address, listen.port);
  } catch (error) {
    await daemon.stop();
    throw error;
  }
  return daemon;
}
