/**
 * A throwaway Redis server for tests (Debian's redis-server): its own temp directory, a free
 * port on 127.0.0.1, no persistence (a restart loses everything, as a Redis without RDB or AOF
 * does), stopped at the end of the test or of the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, freePort } from './server-process.ts';

const REDIS_SERVER = '/usr/bin/redis-server';
const INSTALL_COMMAND = 'apt-get install -y redis-server';

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** the running server's process id (for CPU accounting), undefined while stopped */
  pid(): number | undefined;
  /** Stops the server (SIGKILL when `hard`), leaving the port free until `start`. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  remove(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`redis-server is missing; install it with: ${INSTALL_COMMAND}`);
  const directory = mkdtempSync(join(tmpdir(), 'trellis-redis-'));
  directories.add(directory);
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';
  const start = async (): Promise<void> => {
    output = '';
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
    const started = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    running.add(started);
    started.once('exit', () => running.delete(started));
    const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    started.stdout!.on('data', collect);
    started.stderr!.on('data', collect);
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (started.exitCode !== null) throw new Error(`redis-server exited (${started.exitCode}): ${output}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} within 10 s: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = async (hard = false): Promise<void> => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  installExitHook();
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => child?.pid,
    stop,
    start,
    async remove() {
      await stop(true);
      rmSync(directory, { recursive: true, force: true });
      directories.delete(directory);
    },
  };
}

// Servers still running when the process ends (a crash, an interrupted run) are killed here, and
// their directories removed; on a signal too, which then ends the process as it would have.
const running = new Set<ChildProcess>();
const directories = new Set<string>();
let hooked = false;

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const child of running) child.kill('SIGKILL');
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
