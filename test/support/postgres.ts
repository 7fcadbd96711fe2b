/**
 * A throwaway PostgreSQL server for tests: a fresh cluster in a temp directory, listening on a
 * free port on 127.0.0.1 only, with a random password. Durability is switched off because the
 * data never outlives the test run.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';

const INSTALL_COMMAND = 'apt-get install -y postgresql';
const POSTGRES_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'trellis';
const DATABASE = 'trellis_test';
const START_ATTEMPTS = 3;

const run = promisify(execFile);

export interface TestPostgres {
  url: string;
  /** the postmaster's process id (its first line of postmaster.pid); the backends are its children */
  pid(): number;
  stop(): Promise<void>;
}

interface Cluster {
  directory: string;
  dataDir: string;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findBinDir();
  const owner = clusterOwner();
  const directory = mkdtempSync(join(tmpdir(), 'trellis-pg-'));
  const cluster: Cluster = { directory, dataDir: join(directory, 'data') };
  running.add(cluster);
  installExitHooks();
  try {
    const socketDir = join(directory, 'socket');
    mkdirSync(socketDir);
    const password = randomBytes(24).toString('hex');
    const passwordFile = join(directory, 'password');
    writeFileSync(passwordFile, password, { mode: 0o600 });
    if (owner !== undefined) {
      for (const path of [directory, socketDir, passwordFile]) chownSync(path, owner.uid, owner.gid);
    }

    await runAsOwner(owner, join(bin, 'initdb'), [
      '--pgdata', cluster.dataDir,
      '--username', SUPERUSER,
      '--pwfile', passwordFile,
      '--auth', 'scram-sha-256',
      '--encoding', 'UTF8',
      '--no-locale',
      '--no-sync',
      '--no-instructions',
    ], directory);
    rmSync(passwordFile);

    const port = await startServer(bin, owner, cluster, socketDir);
    const adminUrl = `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/postgres`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await admin.end();
    }

    return {
      url: `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/${DATABASE}`,
      pid: () => Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]),
      stop: async () => {
        if (!running.delete(cluster)) return;
        try {
          await runAsOwner(owner, join(bin, 'pg_ctl'), stopArgs(cluster), directory);
        } finally {
          rmSync(directory, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    stopSync(cluster);
    throw error;
  }
}

/** Writes the server settings, then starts it, picking another port if the chosen one was taken. */
async function startServer(
  bin: string,
  owner: Owner | undefined,
  cluster: Cluster,
  socketDir: string,
): Promise<number> {
  const logFile = join(cluster.directory, 'server.log');
  const configFile = join(cluster.dataDir, 'postgresql.conf');
  const baseConfig = readFileSync(configFile, 'utf8');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const settings = [
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      `unix_socket_directories = '${socketDir}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'max_connections = 50',
    ];
    writeFileSync(configFile, `${baseConfig}\n${settings.join('\n')}\n`);
    try {
      const startArgs = ['--pgdata', cluster.dataDir, '--log', logFile, '--wait', '--timeout', '60', 'start'];
      await runAsOwner(owner, join(bin, 'pg_ctl'), startArgs, cluster.directory);
      return port;
    } catch (error) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      if (attempt < START_ATTEMPTS && /could not bind|address already in use/i.test(log)) continue;
      throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${log}`);
    }
  }
}

function findBinDir(): string {
  const versions = existsSync(POSTGRES_ROOT) ? readdirSync(POSTGRES_ROOT) : [];
  const installed = versions
    .filter((version) => existsSync(join(POSTGRES_ROOT, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  if (installed.length === 0) {
    throw new Error(
      `PostgreSQL server binaries are missing (no ${POSTGRES_ROOT}/*/bin/initdb); install them with: ${INSTALL_COMMAND}`,
    );
  }
  return join(POSTGRES_ROOT, installed[0]!, 'bin');
}

interface Owner {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system user. */
function clusterOwner(): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string): number =>
      Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(`the postgres system user does not exist; install PostgreSQL with: ${INSTALL_COMMAND}`);
  }
}

function commandFor(owner: Owner | undefined, command: string, args: string[]): [string, string[]] {
  return owner === undefined ? [command, args] : ['runuser', ['-u', 'postgres', '--', command, ...args]];
}

const childEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, LC_ALL: 'C' });

async function runAsOwner(
  owner: Owner | undefined,
  command: string,
  args: string[],
  cwd: string,
): Promise<void> {
  const [file, fileArgs] = commandFor(owner, command, args);
  await run(file, fileArgs, { cwd, env: childEnv() });
}

function stopArgs(cluster: Cluster): string[] {
  return ['--pgdata', cluster.dataDir, '--mode', 'immediate', '--wait', 'stop'];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// Servers still running when the process ends (a crashed or interrupted test) are stopped here.
const running = new Set<Cluster>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', stopAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopAllSync();
      process.kill(process.pid, signal);
    });
  }
}

function stopAllSync(): void {
  for (const cluster of running) stopSync(cluster);
}

function stopSync(cluster: Cluster): void {
  running.delete(cluster);
  try {
    if (existsSync(join(cluster.dataDir, 'postmaster.pid'))) {
      const bin = findBinDir();
      const [file, args] = commandFor(clusterOwner(), join(bin, 'pg_ctl'), stopArgs(cluster));
      execFileSync(file, args, { cwd: cluster.directory, env: childEnv(), stdio: 'ignore' });
    }
  } catch {
    // Nothing more can be done while the process is ending; the directory still goes.
  } finally {
    rmSync(cluster.directory, { recursive: true, force: true });
  }
}
