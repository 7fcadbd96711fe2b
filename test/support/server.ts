/**
 * Starts a Trellis server in-process for a test: a fresh data directory, SQLite, ports picked
 * by the system on 127.0.0.1, log lines kept in memory. `stop()` closes it and removes the
 * directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../../src/auth/scram.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { TrellisConfig } from '../../src/config/types.ts';
import { startServer, type TrellisServer } from '../../src/server.ts';
import { memoryLogger } from '../../src/util/log.ts';

export interface TestServer {
  server: TrellisServer;
  dataDir: string;
  /** the STARTTLS client port on 127.0.0.1 */
  port: number;
  logLines: string[];
  /** Resolves with the first log line containing every fragment, waiting for it up to 5 s. */
  waitForLog(...fragments: string[]): Promise<string>;
  certificateFile(domain: string): string;
  addUser(username: string, domain: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

export interface RestartableTestServer extends TestServer {
  /** Stops the server and starts it again on the same configuration and data directory (new ports). */
  restart(): Promise<void>;
}

/** `yaml` is merged into a base config that listens on 127.0.0.1 with system-chosen ports. */
export async function startTestServer(yaml = ''): Promise<RestartableTestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trellis-test-'));
  const base = `
data_dir: ${dataDir}
log: { level: debug }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["127.0.0.1"], port: 0 }
http: { addresses: ["127.0.0.1"], port: 0 }
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
`;
  const hasHosts = /^hosts:/m.test(yaml);
  const { logger, lines } = memoryLogger();
  let config: TrellisConfig;
  let server: TrellisServer;
  try {
    config = parseConfig(mergeYaml(base, yaml) + (hasHosts ? '' : '\nhosts:\n  localhost: {}\n'), { baseDir: dataDir });
    server = await startServer(config, logger);
  } catch (error) {
    // A configuration the test got wrong, or a server that did not start: nothing is left behind.
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    get server() {
      return server;
    },
    dataDir,
    get port() {
      return server.listening.c2s[0]!.port;
    },
    logLines: lines,
    async waitForLog(...fragments) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const line = lines.find((candidate) => fragments.every((fragment) => candidate.includes(fragment)));
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`no log line with ${JSON.stringify(fragments)}:\n${lines.slice(-20).join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    certificateFile: (domain) => join(dataDir, 'certs', `${domain}.crt`),
    async addUser(username, domain, password) {
      await server.storage.accounts.create(domain, username, makeStoredCredentials(password, 4096));
    },
    async restart() {
      await server.close();
      server = await startServer(config, logger);
    },
    async stop() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Appends overriding top-level sections: later keys win in the config loader's YAML parse. */
function mergeYaml(base: string, extra: string): string {
  const overridden = new Set([...extra.matchAll(/^([a-z0-9_]+):/gm)].map((match) => match[1]));
  const kept = base.split(/\n(?=[a-z0-9_]+:)/).filter((section) => !overridden.has(section.trim().split(':')[0]));
  return kept.join('\n') + '\n' + extra;
}
