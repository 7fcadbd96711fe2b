/**
 * Foreground daemons and scratch directories for the lab. Everything started here is ended and
 * removed when the test process exits, even after a failure or a signal.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Daemon {
  name: string;
  pid: number;
  /** stdout and stderr of the process */
  outputFile: string;
  /** resolves with the exit code (or signal name) once the process has ended */
  exited: Promise<string>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs` */
  stop(graceMs?: number): Promise<void>;
  /** Writes to the process's standard input; only for a daemon started with `input`. */
  write(text: string): void;
}

const liveChildren = new Set<ChildProcess>();
const scratchDirs = new Set<string>();
let hooksInstalled = false;

/** A fresh directory under the system temp dir, removed by `removeScratchDir` or at exit. */
export function makeScratchDir(prefix: string): string {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), `trellis-lab-${prefix}-`));
  scratchDirs.add(dir);
  return dir;
}

export function removeScratchDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  scratchDirs.delete(dir);
}

export interface DaemonOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** where stdout and stderr go */
  outputFile: string;
  /** keep standard input open for `write` (a daemon driven by commands on its console) */
  input?: boolean;
}

/** Starts `command` in the foreground of its own process (it must not daemonize). */
export function startDaemon(name: string, command: string, args: string[], options: DaemonOptions): Daemon {
  installExitHooks();
  const fd = openSync(options.outputFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.input ? 'pipe' : 'ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  liveChildren.add(child);
  // A daemon that died mid-write is reported by `exited`, not by an EPIPE thrown here.
  child.stdin?.on('error', () => {});
  let ended = false;
  const exited = new Promise<string>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      ended = true;
      liveChildren.delete(child);
      resolve(signal ?? String(code));
    };
    child.once('exit', finish);
    child.once('error', (error) => {
      ended = true;
      liveChildren.delete(child);
      resolve(`spawn error: ${error.message}`);
    });
  });
  return {
    name,
    pid: child.pid ?? -1,
    outputFile: options.outputFile,
    exited,
    hasExited: () => ended,
    write(text) {
      if (child.stdin === null) throw new Error(`${name} was started without input`);
      child.stdin.write(text);
    },
    async stop(graceMs = 3000) {
      if (ended) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Listener {
  address: string;
  port: number;
}

/**
 * Waits until the daemon listens on every `listeners` entry, as `ss -ltnp` shows it. Probing by
 * connecting would show up in the peers' logs as bogus sessions. A socket that another process
 * holds fails at once: some daemons (Prosody) keep running without the port they could not bind.
 */
export async function waitForListeners(
  daemon: Daemon,
  listeners: Listener[],
  { timeoutMs = 30_000, logFile }: { timeoutMs?: number; logFile?: string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const wanted = listeners.map(({ address, port }) => `${address}:${port}`);
  for (;;) {
    const owners = listeningSockets();
    const missing = wanted.filter((socket) => !owners.get(socket)?.includes(`pid=${daemon.pid},`));
    if (missing.length === 0) return;
    // `ss` can list a socket before it can name its process (the daemon is still binding): only
    // a socket that names another process is taken.
    const taken = missing.filter((socket) => (owners.get(socket) ?? '') !== '');
    if (taken.length > 0) {
      await daemon.stop();
      throw new Error(`${daemon.name} cannot listen on ${taken.map((socket) => `${socket} (held by ${owners.get(socket)})`).join(', ')}`);
    }
    if (daemon.hasExited()) {
      throw new Error(`${daemon.name} exited (${await daemon.exited}) before listening on ${missing.join(', ')}\n${describeLogs(daemon, logFile)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${daemon.name} is not listening on ${missing.join(', ')} after ${timeoutMs} ms\n${describeLogs(daemon, logFile)}`);
    }
    await sleep(50);
  }
}

/** Listening TCP sockets ("address:port") and the processes holding them. */
function listeningSockets(): Map<string, string> {
  const result = spawnSync('ss', ['-ltnpH'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ss -ltnpH failed: ${result.stderr}`);
  const sockets = new Map<string, string>();
  // Columns: State Recv-Q Send-Q Local-Address:Port Peer-Address:Port Process
  for (const line of result.stdout.split('\n')) {
    const columns = line.trim().split(/\s+/);
    if (columns.length >= 4) sockets.set(columns[3]!, columns.slice(5).join(' '));
  }
  return sockets;
}

/** The last lines of a file, for failure messages. */
export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

function describeLogs(daemon: Daemon, logFile: string | undefined): string {
  const parts = [`--- ${daemon.outputFile} ---\n${tail(daemon.outputFile)}`];
  if (logFile !== undefined) parts.push(`--- ${logFile} ---\n${tail(logFile)}`);
  return parts.join('\n');
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', cleanUpNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanUpNow();
      process.kill(process.pid, signal);
    });
  }
}

function cleanUpNow(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  liveChildren.clear();
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
  scratchDirs.clear();
}
