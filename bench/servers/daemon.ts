/**
 * A server process under test: started in the foreground with its output in a file, ready when
 * `ss -ltn` shows its listener (connecting to probe would count as a client), stopped with
 * SIGTERM and, if it lingers, SIGKILL. Every daemon started is remembered so that an interrupted
 * or failing benchmark still stops it (see stopAllDaemons).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly outputFile: string;
  stop(): Promise<void>;
}

const running = new Set<Daemon>();

export function startDaemon(name: string, command: string, args: string[], options: { cwd: string; outputFile: string; env?: NodeJS.ProcessEnv }): Daemon {
  const output = openSync(options.outputFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', output, output] });
  } finally {
    closeSync(output);
  }
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const daemon: Daemon = {
    name,
    pid: child.pid,
    outputFile: options.outputFile,
    async stop() {
      running.delete(daemon);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const gone = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!gone) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  running.add(daemon);
  child.once('exit', (code, signal) => {
    if (running.has(daemon)) process.stderr.write(`${name} (pid ${child.pid}) exited unexpectedly (${signal ?? code}); output: ${options.outputFile}\n`);
  });
  return daemon;
}

export async function stopAllDaemons(): Promise<void> {
  await Promise.all([...running].map((daemon) => daemon.stop()));
}

/** Whether something listens on address:port (TCP), according to `ss -ltn`. */
export function isListening(address: string, port: number): boolean {
  const table = execFileSync('ss', ['-ltnH'], { encoding: 'utf8' });
  return table.split('\n').some((line) => line.split(/\s+/)[3] === `${address}:${port}`);
}

export async function waitForListener(daemon: Daemon, address: string, port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isListening(address, port)) {
    if (!processExists(daemon.pid)) throw new Error(`${daemon.name} exited before listening on ${address}:${port}:\n${tail(daemon.outputFile)}`);
    if (Date.now() > deadline) throw new Error(`${daemon.name} is not listening on ${address}:${port} after ${timeoutMs} ms:\n${tail(daemon.outputFile)}`);
    await sleep(100);
  }
}

function processExists(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(state);
  } catch {
    return false;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no output)';
  }
}
