/**
 * A cluster of Trellis processes (`bin/trellis start`) serving one domain (`localhost` unless told), on one
 * PostgreSQL and one Redis, configured from the example set in docs/cluster.md: each node its
 * own config file, data directory and client port, the certificate the first node generated
 * copied to the others before they start, accounts and rosters written before the first start.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../../src/auth/scram.ts';
import { loadConfig } from '../../src/config/load.ts';
import { openStorage } from '../../src/storage/open.ts';
import { after, before } from 'node:test';
import { login } from './login.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';
import { startRedis, type TestRedis } from './redis.ts';
import type { RawClient } from './raw-client.ts';
import type { TestServer } from './server.ts';
import { accepts, freePort, PASSWORD, sleep, type ServerProcess } from './server-process.ts';

const TRELLIS = join(import.meta.dirname, '..', '..', 'bin', 'trellis');
const DOC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'cluster.md'), 'utf8');
/** docs/cluster.md's example configuration set, by name */
const EXAMPLES = new Map([...DOC.matchAll(/```yaml\n# example: ([\w-]+)\n([\s\S]*?)```/g)].map((match) => [match[1]!, match[2]!]));
/** how long a node may take to listen, and to exit once signalled, before the test stops waiting for it */
const START_MS = 20_000;
const EXIT_MS = 15_000;

export interface ClusterTimings {
  heartbeat_interval_ms: number;
  lease_ms: number;
}

/** What a cluster differs in from the default: one domain, `localhost`, and no federation. */
export interface ClusterOptions {
  /** the domain the nodes serve */
  domain?: string;
  /** with federation: each node's address for servers (port 5269), one per node */
  s2sAddresses?: string[];
  /** YAML added to every node's configuration */
  extraYaml?: string;
  /** serve the admin API on `adminSocket(node)` */
  admin?: boolean;
}

export class TestCluster {
  readonly dir: string;
  readonly ports: readonly number[];
  readonly domain: string;
  readonly #options: ClusterOptions;
  readonly #processes = new Map<number, ServerProcess>();

  private constructor(dir: string, ports: number[], options: ClusterOptions) {
    this.dir = dir;
    this.ports = ports;
    this.domain = options.domain ?? 'localhost';
    this.#options = options;
  }

  /** Writes one config per node and the accounts (`users`) with mutual `both` subscriptions between the pairs in `contacts`. */
  static async create(nodes: number, postgresUrl: string, redisUrl: string, timings: ClusterTimings, users: string[], contacts: [string, string][], options: ClusterOptions = {}): Promise<TestCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-cluster-'));
    const ports: number[] = [];
    for (let i = 0; i < nodes; i++) ports.push(await freePort());
    const cluster = new TestCluster(dir, ports, options);
    try {
      for (let i = 0; i < nodes; i++) await writeFile(cluster.configFile(i), cluster.#config(i, postgresUrl, redisUrl, timings));
      await cluster.#writeAccounts(users, contacts);
    } catch (error) {
      // No caller holds the cluster yet to remove it.
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return cluster;
  }

  async #writeAccounts(users: string[], contacts: [string, string][]): Promise<void> {
    const config = await loadConfig(this.configFile(0));
    const storage = await openStorage(config.storage, config.data_dir);
    try {
      const domain = this.domain;
      for (const user of users) await storage.accounts.create(domain, user, makeStoredCredentials(PASSWORD, 4096));
      for (const [a, b] of contacts) {
        for (const [user, contact] of [[a, b], [b, a]] as const) {
          await storage.rosters.setItem(domain, user, { jid: `${contact}@${domain}`, subscription: 'both', askOut: false, askIn: false, approved: false, groups: [] });
        }
      }
    } finally {
      await storage.close();
    }
  }

  dataDir(node: number): string {
    return join(this.dir, `data${node + 1}`);
  }

  adminSocket(node: number): string {
    return join(this.dir, `admin${node + 1}.sock`);
  }

  configFile(node: number): string {
    return join(this.dir, `node${node + 1}.yaml`);
  }

  /**
   * The example configuration of the node in docs/cluster.md, with this machine's addresses,
   * directories, servers and timings put in, and what the tests need added (quiet logs, no
   * admin socket, no read rate).
   */
  #config(node: number, postgresUrl: string, redisUrl: string, timings: ClusterTimings): string {
    const example = EXAMPLES.get(`node${node + 1}`);
    if (example === undefined) throw new Error(`docs/cluster.md has no example named node${node + 1}`);
    const replacements: [RegExp, string][] = [
      [/^data_dir: .*$/m, `data_dir: ${this.dataDir(node)}`],
      [/addresses: \["[^"]+"\], port: \d+/, `addresses: ["127.0.0.1"], port: ${this.ports[node]}`],
      [/postgres_url: "[^"]+"/, `postgres_url: "${postgresUrl}"`],
      [/redis_url: "[^"]+"/, `redis_url: "${redisUrl}"`],
      [/heartbeat_interval_ms: \d+/, `heartbeat_interval_ms: ${timings.heartbeat_interval_ms}`],
      [/lease_ms: \d+/, `lease_ms: ${timings.lease_ms}`],
      [/^  example\.com: \{\}$/m, `  ${this.domain}: {}`],
      // Federation on the node's own address when asked for, else off (port 5269 is one per address).
      [/s2s: \{ addresses: \["[^"]+"\], port: 5269 \}/, this.#options.s2sAddresses ? `s2s: { addresses: ["${this.#options.s2sAddresses[node]}"], port: 5269 }` : 's2s: { enabled: false }'],
    ];
    let yaml = example;
    for (const [pattern, replacement] of replacements) {
      if (!pattern.test(yaml)) throw new Error(`the node${node + 1} example of docs/cluster.md has no ${pattern}`);
      yaml = yaml.replace(pattern, replacement);
    }
    return `${yaml}log: { level: warn }
admin: ${this.#options.admin ? `{ socket: ${this.adminSocket(node)} }` : '{ enabled: false }'}
strangers: { max_messages: 0 }
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  rate: { bytes_per_second: 104857600, burst_bytes: 104857600, stanzas_per_second: 1000000, burst_stanzas: 1000000 }
${this.#options.extraYaml ?? ''}`;
  }

  /** What login() needs to reach node `node`. */
  target(node: number): TestServer {
    return { port: this.ports[node]!, certificateFile: (domain: string) => join(this.dataDir(node), 'certs', `${domain}.crt`) } as Partial<TestServer> as TestServer;
  }

  /**
   * Runs node `node` and resolves once it listens for clients itself (it joined the cluster before
   * listening). The port merely accepting is not enough: it was free between freePort() and the
   * node binding it, so another process may hold it, and this node then exits on EADDRINUSE.
   */
  async start(node: number): Promise<ServerProcess> {
    const port = this.ports[node]!;
    // Every node presents the same certificate for the domain: the one the first node made.
    if (node > 0 && !existsSync(join(this.dataDir(node), 'certs'))) await cp(join(this.dataDir(0), 'certs'), join(this.dataDir(node), 'certs'), { recursive: true });
    const child = spawn(TRELLIS, ['start', '--config', this.configFile(node)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const started: ServerProcess = { child, exited, output: () => output };
    // Registered before waiting, so that remove() kills it whatever happens next.
    this.#processes.set(node, started);
    spawned.add(child);
    installExitHook();
    void exited.then(() => spawned.delete(child));
    const deadline = Date.now() + START_MS;
    while (!(await accepts(port)) || !listensOn(child.pid!, port)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.#describe(node)} exited before listening on ${port}`);
      if (Date.now() > deadline) throw new Error(`${this.#describe(node)} did not listen on ${port} within ${START_MS / 1000} s`);
      await sleep(50);
    }
    return started;
  }

  /** The node, its process and how it ended, with the tail of its log: what a failure about it should say. */
  #describe(node: number): string {
    const started = this.#processes.get(node);
    if (!started) return `node ${node + 1} (not running)`;
    const { child } = started;
    const state = child.exitCode !== null || child.signalCode !== null ? `exited ${child.exitCode ?? child.signalCode}` : 'running';
    return `node ${node + 1} (pid ${child.pid}, ${state}; its log ends:\n${started.output().slice(-2000) || '(nothing)'}\n)`;
  }

  process(node: number): ServerProcess | undefined {
    return this.#processes.get(node);
  }

  /**
   * Kills node `node` with `signal` and waits for it to exit. One still running after EXIT_MS
   * (a clean stop that never ends) is killed with SIGKILL and the test fails, rather than waiting
   * for ever. It stays known to remove() until it exited.
   */
  async kill(node: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const running = this.#processes.get(node);
    if (!running) return;
    running.child.kill(signal);
    const stopped = await exitsWithin(running, EXIT_MS);
    const stuck = stopped ? undefined : this.#describe(node);
    if (!stopped) {
      running.child.kill('SIGKILL');
      await running.exited;
    }
    if (this.#processes.get(node) === running) this.#processes.delete(node);
    if (stuck) throw new Error(`${stuck} did not exit within ${EXIT_MS / 1000} s of ${signal}; killed`);
  }

  /** Logs `user` in on node `node` with `resource` and sends initial presence; a failure names the node and ends with its log. */
  async login(node: number, user: string, resource: string): Promise<RawClient> {
    try {
      const { client } = await login(this.target(node), { username: user, password: PASSWORD, resource, domain: this.domain });
      client.send('<presence/>');
      return client;
    } catch (error) {
      throw new Error(`${user}/${resource} could not log in on ${this.#describe(node)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** Kills every node and removes the directory (also when a kill failed). */
  async remove(): Promise<void> {
    try {
      await Promise.all([...this.#processes.keys()].map((node) => this.kill(node)));
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}

/** Whether `started` exits within `ms`; the timer is cleared either way, so it keeps nothing alive. */
async function exitsWithin(started: ServerProcess, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([started.exited.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether process `pid` itself has a socket listening on TCP port `port` (ss(8) names each listener's process). */
function listensOn(pid: number, port: number): boolean {
  const result = spawnSync('ss', ['-ltnpH', `( sport = :${port} )`], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ss failed: ${result.error?.message ?? result.stderr}`);
  return result.stdout.includes(`pid=${pid},`);
}

// Nodes still running when this process ends (a hook that never ran, an interrupted run) are
// killed here, as support/redis.ts does with its servers: otherwise they outlive the test run.
const spawned = new Set<ChildProcess>();
let hooked = false;

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const child of spawned) child.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** Waits for a presence from `from` whose type is `type` ('' for available). */
export async function waitPresence(client: RawClient, from: string, type: string, timeoutMs = 10_000): Promise<void> {
  await client.waitFor(new RegExp(`<presence\\b(?=[^>]*\\bfrom=["']${from}["'])${type === '' ? '(?![^>]*\\btype=)' : `(?=[^>]*\\btype=["']${type}["'])`}`), timeoutMs);
}

/** The numbers of the messages with ids `${prefix}<n>` in a stream, in the order they came. */
function messageNumbers(text: string, prefix: string): number[] {
  return [...text.matchAll(new RegExp(`\\bid=["']${prefix}(\\d+)["']`, 'g'))].map((match) => Number(match[1]));
}

/** Waits until `count` numbered messages with ids `${prefix}<n>` came (or the time is up); returns their numbers in the order they came. */
export async function waitCount(client: RawClient, prefix: string, count: number, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = messageNumbers(client.received, prefix);
    if (seen.length >= count || Date.now() > deadline) return seen;
    await sleep(50);
  }
}

/** A cluster of `nodes` running for one `describe` block on a PostgreSQL and a Redis of its own, removed after it with the clients it logged in. */
export function runningCluster(nodes: number, timings: ClusterTimings, users: string[], contacts: [string, string][], options: ClusterOptions = {}): { cluster(): TestCluster; redis(): TestRedis; connect(node: number, user: string, resource: string): Promise<RawClient> } {
  let postgres: TestPostgres | undefined;
  let redis: TestRedis | undefined;
  let cluster: TestCluster | undefined;
  const clients: RawClient[] = [];
  before(async () => {
    postgres = await startPostgres();
    redis = await startRedis();
    cluster = await TestCluster.create(nodes, postgres.url, redis.url, timings, users, contacts, options);
    for (let node = 0; node < nodes; node++) await cluster.start(node);
  });
  // Each step runs even when one before it failed: a node left running, or Redis or PostgreSQL, keeps this test process alive.
  after(async () => {
    for (const client of clients) client.close();
    try {
      await cluster?.remove();
    } finally {
      try {
        await redis?.remove();
      } finally {
        await postgres?.stop();
      }
    }
  });
  return {
    cluster: () => cluster!,
    redis: () => redis!,
    async connect(node, user, resource) {
      const client = await cluster!.login(node, user, resource);
      clients.push(client);
      return client;
    },
  };
}

/** Established TCP connections to `address`:`port`, from anywhere on this machine (ss(8)). */
export function establishedTo(address: string, port: number): number {
  const result = spawnSync('ss', ['-tnH', 'state', 'established', `( dst ${address}:${port} )`], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ss failed: ${result.stderr}`);
  return result.stdout.split('\n').filter((line) => line.trim() !== '').length;
}
