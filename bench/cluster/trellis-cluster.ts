/**
 * Trellis as a cluster under test (docs/cluster.md): a fresh PostgreSQL and redis-server started
 * as the tests start them (test/support/postgres.ts, redis.ts), then `nodes` Trellis nodes through
 * bin/trellis (`trellis start`), node k on `addresses[k]`, all on one port, each with its own data
 * directory and configuration. The server's CPU time is that of every node, of redis-server and of
 * PostgreSQL (the postmaster and its backends), each counted as a part; memory is node 1's.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../../src/auth/scram.ts';
import { openStorage } from '../../src/storage/open.ts';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.ts';
import { startRedis, type TestRedis } from '../../test/support/redis.ts';
import { descendantsOf } from '../servers/cpu-pinning.ts';
import { launchTrellis } from '../servers/trellis.ts';
import type { ServerOptions, ServerUnderTest } from '../servers/server-under-test.ts';

export interface ClusterOptions extends Omit<ServerOptions, 'address' | 'muc' | 'rosters' | 'profileDir'> {
  /** one client address per node */
  addresses: string[];
  /** when set, each node writes a CPU profile there on exit */
  profileDir?: string;
  /** keep users' message archives (XEP-0313, on by default): each message is then written to PostgreSQL before it is routed */
  archive: boolean;
}

/** Registration renewals as in docs/cluster.md's examples. */
const HEARTBEAT_MS = 1000;
const LEASE_MS = 5000;

export async function startTrellisCluster(options: ClusterOptions): Promise<ServerUnderTest> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    const postgres: TestPostgres = await startPostgres();
    stops.push(() => postgres.stop());
    const redis: TestRedis = await startRedis();
    stops.push(() => redis.remove());
    await createAccounts(postgres.url, options);
    const nodes: ServerUnderTest[] = [];
    for (const [index, address] of options.addresses.entries()) {
      const node = await startNode(index, address, postgres.url, redis.url, options);
      stops.push(() => node.stop());
      nodes.push(node);
    }
    const tree = (pid: number | undefined) => (pid === undefined ? [] : [pid, ...descendantsOf(pid)]);
    const count = options.addresses.length;
    return {
      name: `trellis×${count}`,
      version: nodes[0]!.version,
      pid: nodes[0]!.pid,
      parts: [
        ...nodes.map((node, index) => ({ name: `node${index + 1}`, pids: () => tree(node.pid) })),
        { name: 'redis', pids: () => tree(redis.pid()) },
        { name: 'postgres', pids: () => tree(postgres.pid()) },
      ],
      settings: [
        `${count} node(s) started with bin/trellis, node k listening for clients on ${options.addresses.map((address) => `${address}:${options.port}`).join(', ')}`,
        'each node: storage.driver postgres, a cluster section (heartbeat_interval_ms 1000, lease_ms 5000), otherwise as the messaging scenario runs Trellis (plain TCP, lifted rates, keepalive off, log level warn)',
        options.archive ? 'message archives on (the default): every message is archived in PostgreSQL for its sender and its recipient' : 'modules_disabled: [mam] (ejabberd here runs without mod_mam; --archive on measures them)',
        'PostgreSQL: a fresh cluster (fsync, synchronous_commit and full_page_writes off) as the tests start it; redis-server: no persistence, as the tests start it',
      ],
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function createAccounts(postgresUrl: string, options: ClusterOptions): Promise<void> {
  const storage = await openStorage({ driver: 'postgres', postgres_url: postgresUrl } as Parameters<typeof openStorage>[0], tmpdir());
  try {
    // One verifier for every account (same password and salt): one key derivation for any number of users.
    const credentials = makeStoredCredentials(options.password, options.scramIterations);
    for (const username of options.usernames) await storage.accounts.create(options.domain, username, credentials);
  } finally {
    await storage.close();
  }
}

/** The nodes' directories not yet removed: a signal, which PostgreSQL's and Redis's helpers end the process on, removes them at once. */
const nodeDirs = new Set<string>();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    for (const dir of nodeDirs) rmSync(dir, { recursive: true, force: true });
  });
}

async function startNode(index: number, address: string, postgresUrl: string, redisUrl: string, options: ClusterOptions): Promise<ServerUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), `trellis-cluster-bench-${index + 1}-`));
  nodeDirs.add(dir);
  const configFile = join(dir, 'trellis.yaml');
  try {
    await writeFile(configFile, nodeYaml(index, dir, address, postgresUrl, redisUrl, options));
    const profiling = options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`];
    const node = await launchTrellis(dir, configFile, address, options.port, [], [...profiling, process.env.TRELLIS_NODE_OPTIONS ?? ''].join(' '));
    return { ...node, stop: () => node.stop().finally(() => nodeDirs.delete(dir)) };
  } catch (error) {
    nodeDirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function nodeYaml(index: number, dir: string, address: string, postgresUrl: string, redisUrl: string, options: ClusterOptions): string {
  return `# Generated for one cluster benchmark run.
data_dir: ${JSON.stringify(dir)}
log: { level: warn }
listeners:
  c2s: { addresses: [${JSON.stringify(address)}], port: ${options.port} }
  c2s_direct_tls: { enabled: false }
  s2s: { enabled: false }
  s2s_direct_tls: { enabled: false }
http: { enabled: false }
admin: { enabled: false }
storage: { driver: postgres, postgres_url: ${JSON.stringify(postgresUrl)} }
cluster:
  node: node${index + 1}
  redis_url: ${JSON.stringify(redisUrl)}
  heartbeat_interval_ms: ${HEARTBEAT_MS}
  lease_ms: ${LEASE_MS}
c2s:
  require_tls: false
  sasl_mechanisms: [SCRAM-SHA-1, SCRAM-SHA-256]
  scram_iterations: ${options.scramIterations}
  keepalive: { interval: 0 }
  rate: { bytes_per_second: 1073741824, burst_bytes: 1073741824, stanzas_per_second: 10000000, burst_stanzas: 10000000 }
limits: { c2s_per_address: 0, c2s_unauthenticated: 0, max_open_files_percent: 100 }
strangers: { max_messages: 0 }
${options.archive ? '' : 'modules_disabled: [mam]\n'}hosts:
  ${JSON.stringify(options.domain)}: {}
`;
}
