/**
 * The pid file a running server keeps in its data directory, so that `trellis reload` can find
 * it and signal it.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function pidFilePath(dataDir: string): string {
  return join(dataDir, 'trellis.pid');
}

/** The pid of a live server using this data directory, or undefined (no file, or a stale one). */
export function runningServerPid(dataDir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(pidFilePath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

export function writePidFile(dataDir: string): void {
  writeFileSync(pidFilePath(dataDir), `${process.pid}\n`);
}

/** Removes the pid file if it is still this process's. */
export function removePidFile(dataDir: string): void {
  const path = pidFilePath(dataDir);
  try {
    if (Number(readFileSync(path, 'utf8').trim()) === process.pid) rmSync(path);
  } catch {
    // already gone
  }
}
