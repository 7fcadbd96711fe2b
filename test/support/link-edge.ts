/**
 * A Trellis edge run as a real process (`bin/trellis start`) for link tests: its hosted domains,
 * accounts made before it starts, a client port on 127.0.0.1 and a YAML tail (its links and
 * peering rules). Processes are started, killed and started again on the same data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../../src/auth/scram.ts';
import { loadConfig } from '../../src/config/load.ts';
import { openStorage } from '../../src/storage/open.ts';
import { loginFederated, type FederatedServer } from './federation.ts';
import type { RawClient } from './raw-client.ts';
import { freePort, sleep } from './server-process.ts';

const TRELLIS = join(import.meta.dirname, '..', '..', 'bin', 'trellis');

export class LinkEdge {
  readonly dir: string;
  #port: number;
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #output = '';

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.#port = port;
  }

  /** the client port */
  get port(): number {
    return this.#port;
  }

  /**
   * `accounts`: "user@domain" each, password "secret". `options.s2s`: the address its server
   * listener takes (port 5269), none when absent; `options.admin`: the admin API on its socket
   * (`trellis status --config`); `options.tls`: a certificate and key file per hosted domain.
   */
  static async create(domains: string[], accounts: string[], yaml: string, options: { s2s?: string; admin?: boolean; tls?: Record<string, { certificate: string; key: string }> } = {}): Promise<LinkEdge> {
    const edge = new LinkEdge(await mkdtemp(join(tmpdir(), 'trellis-link-edge-')), await freePort());
    const host = (domain: string) => {
      const tls = options.tls?.[domain];
      return tls === undefined ? `  ${domain}: {}` : `  ${domain}:\n    tls: { certificate: "${tls.certificate}", key: "${tls.key}" }`;
    };
    await writeFile(
      edge.configFile,
      `data_dir: ${join(edge.dir, 'data')}
log: { level: info }
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: ${edge.port} }
  s2s: ${options.s2s === undefined ? '{ enabled: false }' : `{ addresses: ["${options.s2s}"], port: 5269 }`}
admin: { enabled: ${options.admin === true} }
c2s: { scram_iterations: 4096, auth_failure_delay: 10 }
${yaml}
hosts:
${domains.map(host).join('\n')}
`,
    );
    try {
      const config = await loadConfig(edge.configFile);
      const storage = await openStorage(config.storage, config.data_dir);
      try {
        for (const account of accounts) {
          const [user, domain] = account.split('@') as [string, string];
          await storage.accounts.create(domain, user, makeStoredCredentials('secret', 4096));
        }
      } finally {
        await storage.close();
      }
    } catch (error) {
      await edge.remove();
      throw error;
    }
    return edge;
  }

  get configFile(): string {
    return join(this.dir, 'trellis.yaml');
  }

  /** What the running (or last) process wrote. */
  get output(): string {
    return this.#output;
  }

  /**
   * Starts `trellis start` and resolves once it accepts clients. The client port was free when
   * the edge was made, but another process may have taken it since (as the local port of a
   * connection of its own): a start that finds it taken moves to another, twice at most.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#startOnce();
      } catch (error) {
        if (attempt === 3 || !this.#output.includes(`127.0.0.1:${this.#port}: listen EADDRINUSE`)) throw error;
        await this.#moveClientPort();
      }
    }
  }

  async #moveClientPort(): Promise<void> {
    const port = await freePort();
    const config = await readFile(this.configFile, 'utf8');
    await writeFile(this.configFile, config.replace(`port: ${this.#port} }`, `port: ${port} }`));
    this.#port = port;
  }

  async #startOnce(): Promise<void> {
    this.#output = '';
    const child = spawn(TRELLIS, ['start', '--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await this.waitForOutput('serving hosts', 15_000);
  }

  /** Waits until the process output contains `text`. */
  async waitForOutput(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#output.includes(text)) {
      if (this.#child?.exitCode !== null) throw new Error(`trellis exited: ${this.#output}`);
      if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms: ${this.#output}`);
      await sleep(50);
    }
  }

  /** kill -9, and waits for the process to be gone. */
  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
    this.#child = undefined;
  }

  /** Logs `username@domain` in with resource "r" and sends initial presence. */
  async login(username: string, domain: string): Promise<RawClient> {
    const client = await loginFederated({ port: this.port, domain } as FederatedServer, username);
    client.send('<presence/>');
    return client;
  }

  async remove(): Promise<void> {
    try {
      await this.kill();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}
