/**
 * CPU time and memory of a process from /proc (proc(5)): utime + stime of /proc/PID/stat
 * (fields 14 and 15, in clock ticks, all threads included) and VmRSS of /proc/PID/status.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface ProcSnapshot {
  /** performance.now() when read */
  atMillis: number;
  cpuSeconds: number;
  rssBytes: number;
}

export function readProcSnapshot(pid: number): ProcSnapshot {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  return { atMillis: performance.now(), cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, rssBytes: rssKb * 1024 };
}

/** CPU seconds (user + system, all threads) of each of `pids` still running; an ended one is left out. */
export function readCpuSeconds(pids: number[]): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of pids) {
    try {
      seconds.set(pid, readProcSnapshot(pid).cpuSeconds);
    } catch {
      // ended meanwhile
    }
  }
  return seconds;
}

/** CPU seconds spent between two readings by the processes present in both. */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) {
    const start = before.get(pid);
    if (start !== undefined) total += seconds - start;
  }
  return total;
}

/** Resident memory of a process split as proc(5) reports it: anonymous (heap, stacks) and file-backed (program and libraries). */
export interface ResidentMemory {
  rssBytes: number;
  anonBytes: number;
  fileBytes: number;
}

export function readResidentMemory(pid: number): ResidentMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kb('VmRSS'), anonBytes: kb('RssAnon'), fileBytes: kb('RssFile') + kb('RssShmem') };
}

/** Samples a process's memory in the background to catch its peak resident set. */
export class RssSampler {
  #peakBytes = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(pid: number, intervalMs = 200) {
    const sample = (): void => {
      try {
        this.#peakBytes = Math.max(this.#peakBytes, readProcSnapshot(pid).rssBytes);
      } catch {
        // the process ended; the run reports that elsewhere
      }
    };
    sample();
    this.#timer = setInterval(sample, intervalMs);
  }

  stop(): number {
    clearInterval(this.#timer);
    return this.#peakBytes;
  }
}

/** CPU time of the whole machine from the first line of /proc/stat, in seconds summed over all cores. */
export interface MachineCpu {
  atMillis: number;
  busySeconds: number;
}

export function readMachineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busyTicks = user! + nice! + system! + irq! + softirq! + steal!;
  return { atMillis: performance.now(), busySeconds: busyTicks / CLOCK_TICKS_PER_SECOND };
}

/**
 * Waits until the machine's busy cores over one second fall below `maxBusyCores`, for at most
 * `timeoutMs`. Returns the last reading; other work on a shared machine disturbs every figure.
 */
export async function waitForQuietMachine(maxBusyCores: number, timeoutMs: number): Promise<{ busyCores: number; waitedMs: number }> {
  const start = performance.now();
  for (;;) {
    const before = readMachineCpu();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = readMachineCpu();
    const busyCores = (after.busySeconds - before.busySeconds) / ((after.atMillis - before.atMillis) / 1000);
    const waitedMs = performance.now() - start;
    if (busyCores < maxBusyCores || waitedMs >= timeoutMs) return { busyCores, waitedMs };
  }
}
