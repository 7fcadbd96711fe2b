/**
 * One Trellis server process for the benchmarks that run several: a fresh data directory with
 * the configuration `yaml(dir)` makes, accounts written through the storage API before it starts
 * (they share one SCRAM verifier), `bin/trellis start`, ready when every listener in `ports` is
 * up. Stopping it removes the directory, after copying its output to `keepLogIn` when set.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../../src/auth/scram.ts';
import { openStorage } from '../../src/storage/open.ts';
import { startDaemon, waitForListener } from '../servers/daemon.ts';
import type { FederationPeer } from './peer.ts';

const REPO = join(import.meta.dirname, '..', '..');

export interface TrellisProcessOptions {
  name: string;
  /** the address its listeners are on */
  address: string;
  ports: number[];
  /** the configuration file's text, given the data directory */
  yaml(dir: string): string;
  accounts: { domain: string; usernames: string[] }[];
  password: string;
  /** Node options for bin/trellis (TRELLIS_NODE_OPTIONS), e.g. --cpu-prof */
  nodeOptions?: string;
  keepLogIn?: string;
}

export async function startTrellisProcess(options: TrellisProcessOptions): Promise<FederationPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'trellis-fed-bench-'));
  try {
    const configFile = join(dir, 'trellis.yaml');
    await writeFile(configFile, options.yaml(dir));
    if (options.accounts.length > 0) {
      const storage = await openStorage({ driver: 'sqlite', sqlite_file: 'trellis.sqlite' }, dir);
      try {
        const credentials = makeStoredCredentials(options.password, 4096);
        for (const host of options.accounts) for (const username of host.usernames) await storage.accounts.create(host.domain, username, credentials);
      } finally {
        await storage.close();
      }
    }
    const env = options.nodeOptions === undefined ? process.env : { ...process.env, TRELLIS_NODE_OPTIONS: options.nodeOptions };
    const daemon = startDaemon(options.name, join(REPO, 'bin/trellis'), ['start', '--config', configFile], { cwd: dir, outputFile: join(dir, 'trellis.out'), env });
    try {
      for (const port of options.ports) await waitForListener(daemon, options.address, port);
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return {
      name: options.name,
      software: 'trellis',
      pid: daemon.pid,
      address: options.address,
      outputFile: daemon.outputFile,
      async stop() {
        await daemon.stop();
        if (options.keepLogIn !== undefined) await copyFile(daemon.outputFile, join(options.keepLogIn, `${options.name}.log`)).catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
