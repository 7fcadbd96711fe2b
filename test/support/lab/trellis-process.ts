/**
 * Trellis servers run as processes (`bin/trellis start --config FILE`) from configuration files
 * written as they are (the examples of docs/peering.md): accounts added to their storage before
 * they start, their output kept for the assertions, the admin API on the socket their config
 * names, and clients logged in on the address of their client listener.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { makeStoredCredentials } from '../../../src/auth/scram.ts';
import { loadConfig } from '../../../src/config/load.ts';
import type { TrellisConfig } from '../../../src/config/types.ts';
import { openStorage } from '../../../src/storage/open.ts';
import { authenticate } from '../login.ts';
import { RawClient, streamHeader } from '../raw-client.ts';
import { startDaemon } from './process.ts';

const TRELLIS = join(import.meta.dirname, '..', '..', '..', 'bin', 'trellis');
/** How long a process may take to start, and to say something a test waits for. */
const WAIT_MS = 60_000;

export interface TrellisProcess {
  config: TrellisConfig;
  /** everything it wrote to stdout and stderr (the last 200 KiB) */
  output(): string;
  /** resolves with the first output line containing every fragment */
  waitForOutput(...fragments: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Adds accounts (password "secret") to the storage of the configuration in `file`. */
export async function addAccounts(file: string, accounts: { username: string; domain: string }[]): Promise<void> {
  const config = await loadConfig(file);
  const storage = await openStorage(config.storage, config.data_dir);
  try {
    for (const { username, domain } of accounts) await storage.accounts.create(domain, username, makeStoredCredentials('secret', 4096));
  } finally {
    await storage.close();
  }
}

/** Runs `trellis start` on `file` (its output in `<file>.log`, as the lab's daemons keep theirs) and resolves once it serves its hosts. */
export async function startTrellis(file: string): Promise<TrellisProcess> {
  const config = await loadConfig(file);
  const logFile = `${file}.log`;
  const daemon = startDaemon(basename(file), TRELLIS, ['start', '--config', file], { outputFile: logFile, cwd: dirname(file) });
  const output = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const waitForOutput = async (...fragments: string[]): Promise<string> => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const line = output().split('\n').find((candidate) => fragments.every((fragment) => candidate.includes(fragment)));
      if (line !== undefined) return line;
      if (Date.now() > deadline || daemon.hasExited()) throw new Error(`no output line with ${JSON.stringify(fragments)} from ${file}:\n${output().slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const running: TrellisProcess = { config, output, waitForOutput, stop: () => daemon.stop() };
  try {
    await waitForOutput('serving hosts');
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/** Logs `username@domain/resource` in over STARTTLS on the server's first client listener, trusting `ca`. */
export async function loginTo(server: TrellisProcess, ca: Buffer, username: string, domain: string, resource = 'r'): Promise<RawClient> {
  const { addresses, port } = server.config.listeners.c2s;
  const client = await RawClient.connect(port, addresses[0]);
  client.send(streamHeader(domain));
  await client.waitFor('</stream:features>');
  client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  await client.waitFor('<proceed');
  await client.startTls(ca, domain);
  client.send(streamHeader(domain));
  await client.waitFor('</stream:features>');
  await authenticate(client, { username, password: 'secret', domain, resource });
  return client;
}
