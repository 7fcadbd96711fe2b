/**
 * A Trellis installation run as a real process (`bin/trellis start`): its config file, data
 * directory and client port, with processes started on it one at a time and killed as a test
 * likes; and the stream management steps and message counting that tests of what survives the
 * end of a process share.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../../src/auth/scram.ts';
import { loadConfig } from '../../src/config/load.ts';
import { openStorage } from '../../src/storage/open.ts';
import { login } from './login.ts';
import type { RawClient } from './raw-client.ts';
import type { TestServer } from './server.ts';

const TRELLIS = join(import.meta.dirname, '..', '..', 'bin', 'trellis');
/** every user's password */
export const PASSWORD = 'correct horse';
export const NS_SM = 'urn:xmpp:sm:3';

/** A port free at the moment: the system picks one, and it is released for the server to bind. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

export interface ServerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** A server installation: its config file, data directory and client port; processes run on it one at a time. */
export class Installation {
  readonly dir: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly port: number;
  readonly #processes = new Set<ServerProcess>();

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.dataDir = join(dir, 'data');
    this.configFile = join(dir, 'trellis.yaml');
    this.port = port;
  }

  static async create(users: string[], extraYaml = ''): Promise<Installation> {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-durability-'));
    const installation = new Installation(dir, await freePort());
    await writeFile(
      installation.configFile,
      `data_dir: ${installation.dataDir}
log: { level: warn }
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: ${installation.port} }
  s2s: { enabled: false }
admin: { enabled: false }
# these senders flood on purpose, with no roster between them: no stranger limit
strangers: { max_messages: 0 }
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  # the senders here flood on purpose: no read rate in the way
  rate: { bytes_per_second: 104857600, burst_bytes: 104857600, stanzas_per_second: 1000000, burst_stanzas: 1000000 }
${extraYaml}
hosts:
  localhost: {}
`,
    );
    const storage = await installation.#openStorage();
    try {
      for (const user of users) await storage.accounts.create('localhost', user, makeStoredCredentials(PASSWORD, 4096));
    } finally {
      await storage.close();
    }
    return installation;
  }

  async #openStorage() {
    const config = await loadConfig(this.configFile);
    return openStorage(config.storage, config.data_dir);
  }

  /** Messages stored for `user`, read while no server runs. */
  async offlineCount(user: string): Promise<number> {
    const storage = await this.#openStorage();
    try {
      return await storage.offline.count('localhost', user);
    } finally {
      await storage.close();
    }
  }

  /** What login() needs of a server: its client port and the certificate it generated in its data directory. */
  get target(): TestServer {
    return { port: this.port, certificateFile: (domain: string) => join(this.dataDir, 'certs', `${domain}.crt`) } as Partial<TestServer> as TestServer;
  }

  /** Runs `trellis start` and resolves once it accepts client connections. */
  async start(): Promise<ServerProcess> {
    const child = spawn(TRELLIS, ['start', '--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const process: ServerProcess = { child, exited, output: () => output };
    this.#processes.add(process);
    void exited.then(() => this.#processes.delete(process));
    const deadline = Date.now() + 15_000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`trellis start exited (${child.exitCode ?? child.signalCode}): ${output}`);
      if (Date.now() > deadline) throw new Error(`trellis start did not listen on ${this.port} within 15 s: ${output}`);
      await sleep(50);
    }
    return process;
  }

  /** Kills whatever still runs and removes the directory. */
  async remove(): Promise<void> {
    for (const process of this.#processes) {
      process.child.kill('SIGKILL');
      await process.exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Enables stream management on a bound stream. */
export async function enableStreamManagement(client: RawClient): Promise<void> {
  client.send(`<enable xmlns='${NS_SM}'/>`);
  await client.waitFor(/<enabled\b/);
  client.clear();
}

/** Asks for an acknowledgement and waits until it counts `count` stanzas. */
export async function waitAcknowledged(client: RawClient, count: number, timeoutMs = 10_000): Promise<void> {
  client.send(`<r xmlns='${NS_SM}'/>`);
  await client.waitFor(new RegExp(`<a xmlns=["']${NS_SM}["'] h=["']${count}["']/>`), timeoutMs);
}

/** The ids of the messages with the given id prefix in a stream's text, in order, with how many carried a delay stamp. */
export function messageIds(text: string, prefix: string): { ids: string[]; delayed: number } {
  const ids: string[] = [];
  let delayed = 0;
  for (const match of text.matchAll(/<message\b[^>]*>[\s\S]*?<\/message>/g)) {
    const id = new RegExp(`\\bid=["'](${prefix}\\d+)["']`).exec(match[0])?.[1];
    if (id === undefined) continue;
    ids.push(id);
    if (/<delay\b[^>]*urn:xmpp:delay/.test(match[0])) delayed++;
  }
  return { ids, delayed };
}

/** Logs in, sends initial presence and waits until the stream carries every id in `wanted` or `timeoutMs` passed; returns what arrived. */
export async function collectAfterLogin(installation: Installation, username: string, prefix: string, wanted: Set<string>, timeoutMs: number): Promise<{ ids: string[]; delayed: number }> {
  const { client } = await login(installation.target, { username, password: PASSWORD });
  try {
    client.send('<presence/>');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = messageIds(client.received, prefix);
      const have = new Set(seen.ids);
      if ([...wanted].every((id) => have.has(id)) || Date.now() > deadline) {
        await sleep(300);
        return messageIds(client.received, prefix);
      }
      await sleep(50);
    }
  } finally {
    client.close();
  }
}
