/**
 * The pid file a running server keeps in its data directory, so that `trellis reload` can find
 * it and signal it, and a second `trellis start` on the same data directory refuses to run.
 *
 * The file holds the pid on its first line and, on Linux, `start_time=N` on the second: the
 * process's start time in clock ticks since boot (field 22 of /proc/PID/stat). A pid alone is not
 * enough: after a crash or kill -9 the file stays behind and the system may give its pid to any
 * other process. The pid and the start time together name one process for the life of the
 * system. Where the start time cannot be compared (a file without it, or no /proc), the process's
 * command line must be Trellis's main entry; with no /proc at all, a live pid is trusted.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the pid file of a data directory says. */
export type PidFileState =
  | { kind: 'absent' }
  | { kind: 'running'; pid: number }
  /** The file names no live Trellis server; `reason` says why, for the log. */
  | { kind: 'stale'; pid?: number; reason: string };

/** The script every Trellis server process runs (bin/trellis executes it with node). */
const MAIN_ENTRY = join('src', 'cli', 'main.ts');

export function pidFilePath(dataDir: string): string {
  return join(dataDir, 'trellis.pid');
}

/** Reads and checks the pid file of a data directory. */
export function inspectPidFile(dataDir: string): PidFileState {
  let text: string;
  try {
    text = readFileSync(pidFilePath(dataDir), 'utf8');
  } catch {
    return { kind: 'absent' };
  }
  const [pidLine = '', ...rest] = text.split('\n');
  const pid = Number(pidLine.trim());
  if (pidLine.trim() === '' || !Number.isSafeInteger(pid) || pid <= 0) return { kind: 'stale', reason: 'the file holds no pid' };
  const recorded = /^start_time=(\d+)$/m.exec(rest.join('\n'))?.[1];

  if (!processExists(pid)) return { kind: 'stale', pid, reason: `no process has pid ${pid}` };
  const startTime = processStartTime(pid);
  if (recorded !== undefined && startTime !== undefined) {
    return startTime === recorded
      ? { kind: 'running', pid }
      : { kind: 'stale', pid, reason: `pid ${pid} now belongs to a process started later than the server that wrote the file` };
  }
  const commandLine = processCommandLine(pid);
  if (commandLine === undefined) return { kind: 'running', pid };
  return isTrellisServer(commandLine)
    ? { kind: 'running', pid }
    : { kind: 'stale', pid, reason: `pid ${pid} is not a Trellis server (${commandLine.join(' ').slice(0, 120)})` };
}

/** The pid of a live server using this data directory, or undefined (no file, or a stale one). */
export function runningServerPid(dataDir: string): number | undefined {
  const state = inspectPidFile(dataDir);
  return state.kind === 'running' ? state.pid : undefined;
}

/** Writes this process's pid file, whole or not at all (a reader never sees half of it). */
export function writePidFile(dataDir: string): void {
  const path = pidFilePath(dataDir);
  const startTime = processStartTime(process.pid);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${process.pid}\n${startTime === undefined ? '' : `start_time=${startTime}\n`}`);
  renameSync(temporary, path);
}

/** Removes a pid file that names no running server. */
export function removeStalePidFile(dataDir: string): void {
  rmSync(pidFilePath(dataDir), { force: true });
}

/** Removes the pid file if it is still this process's. */
export function removePidFile(dataDir: string): void {
  const path = pidFilePath(dataDir);
  try {
    if (Number(readFileSync(path, 'utf8').split('\n')[0]!.trim()) === process.pid) rmSync(path);
  } catch {
    // already gone
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Field 22 of /proc/PID/stat (proc(5)), or undefined without procfs. Field 2 is the command
 * name in parentheses, which may itself hold spaces and ')': fields are counted after the last ')'.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  const startTime = fields[19];
  return startTime !== undefined && /^\d+$/.test(startTime) ? startTime : undefined;
}

function processCommandLine(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((arg) => arg !== '');
  } catch {
    return undefined;
  }
}

/** A node process running Trellis's main entry with the start command (see bin/trellis). */
function isTrellisServer(commandLine: string[]): boolean {
  const entry = commandLine.findIndex((arg) => arg.endsWith(MAIN_ENTRY));
  return entry > 0 && /node[^/]*$/.test(commandLine[0]!) && commandLine.slice(entry + 1).includes('start');
}
