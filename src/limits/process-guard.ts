/**
 * The process-wide guard: new connections are refused while the process is close to a resource
 * that would otherwise fail everything at once, and existing sessions keep working.
 *
 * - Open file descriptors against the soft RLIMIT_NOFILE (read from /proc/self/limits): at the
 *   limit accept() fails with EMFILE, and so do storage, DNS and TLS for sessions already open.
 * - JavaScript heap in use against V8's heap_size_limit: reaching it ends the process with
 *   "JavaScript heap out of memory", so this is the measure that predicts a crash. RSS is not:
 *   most of it can be buffers, TLS and SQLite memory outside the heap, which V8's limit ignores.
 * - Resident memory (RSS) against a budget: what the kernel's OOM killer or a cgroup limit acts
 *   on. By default 90% of the memory the process may use (its cgroup limit, else the RAM).
 *
 * Measuring costs a directory listing of /proc/self/fd, so it is done at most once a second,
 * when a connection arrives; nothing runs while no one connects.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { LimitsConfig } from '../config/types.ts';

const SAMPLE_INTERVAL_MS = 1000;
const MIB = 1024 * 1024;

export interface ProcessMeasurement {
  openFiles: number | undefined;
  /** the soft limit on open files; undefined when unknown or unlimited */
  maxOpenFiles: number | undefined;
  heapUsed: number;
  heapLimit: number;
  rss: number;
  /** what the process may use at most: its cgroup limit, else the RAM */
  availableMemory: number;
}

export interface GuardRefusal {
  reason: 'open_files' | 'heap' | 'memory';
  text: string;
  /** the figures behind it, for the log */
  fields: Record<string, number>;
}

export class ProcessGuard {
  readonly #config: () => LimitsConfig;
  readonly #measure: () => ProcessMeasurement;
  #sampledAt = -Infinity;
  #verdict: GuardRefusal | undefined;

  constructor(config: () => LimitsConfig, measure: () => ProcessMeasurement = measureProcess) {
    this.#config = config;
    this.#measure = measure;
  }

  /** Why new connections are refused now, if they are; measures at most once a second. */
  refusal(now = Date.now()): GuardRefusal | undefined {
    if (now - this.#sampledAt >= SAMPLE_INTERVAL_MS) {
      this.#sampledAt = now;
      this.#verdict = judge(this.#measure(), this.#config());
    }
    return this.#verdict;
  }

  /** Forgets the last verdict, so the next connection measures again (new limits). */
  reset(): void {
    this.#sampledAt = -Infinity;
  }

  /** Measures now, for the metrics. */
  get measurement(): ProcessMeasurement {
    return this.#measure();
  }
}

/** The budget for resident memory in bytes. */
export function memoryBudget(config: LimitsConfig, availableMemory: number): number {
  return config.max_memory_mib > 0 ? config.max_memory_mib * MIB : Math.floor(availableMemory * 0.9);
}

export function judge(measured: ProcessMeasurement, config: LimitsConfig): GuardRefusal | undefined {
  const { openFiles, maxOpenFiles } = measured;
  if (config.max_open_files_percent < 100 && openFiles !== undefined && maxOpenFiles !== undefined) {
    const threshold = Math.floor((maxOpenFiles * config.max_open_files_percent) / 100);
    if (openFiles >= threshold) {
      return {
        reason: 'open_files',
        text: `the server is short of file descriptors (limits.max_open_files_percent); try again later`,
        fields: { open_files: openFiles, max_open_files: maxOpenFiles, threshold },
      };
    }
  }
  if (config.max_heap_percent < 100 && measured.heapUsed >= (measured.heapLimit * config.max_heap_percent) / 100) {
    return {
      reason: 'heap',
      text: 'the server is short of memory (limits.max_heap_percent); try again later',
      fields: { heap_used_mib: Math.round(measured.heapUsed / MIB), heap_limit_mib: Math.round(measured.heapLimit / MIB) },
    };
  }
  const budget = memoryBudget(config, measured.availableMemory);
  if (measured.rss >= budget) {
    return {
      reason: 'memory',
      text: 'the server is short of memory (limits.max_memory_mib); try again later',
      fields: { rss_mib: Math.round(measured.rss / MIB), budget_mib: Math.round(budget / MIB) },
    };
  }
  return undefined;
}

export function measureProcess(): ProcessMeasurement {
  const memory = process.memoryUsage();
  const heap = getHeapStatistics();
  const constrained = process.constrainedMemory();
  const ram = totalmem();
  return {
    openFiles: countOpenFiles(),
    maxOpenFiles: softFileLimit(),
    heapUsed: memory.heapUsed,
    heapLimit: heap.heap_size_limit,
    rss: memory.rss,
    availableMemory: constrained > 0 && constrained < ram ? constrained : ram,
  };
}

function countOpenFiles(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** "Max open files   1024   20000   files" in /proc/self/limits (proc(5)); the soft limit is what counts. */
export function softFileLimit(text?: string): number | undefined {
  try {
    const limits = text ?? readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\S+)/m.exec(limits);
    const value = match ? Number(match[1]) : NaN;
    return Number.isFinite(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
