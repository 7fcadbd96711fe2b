/**
 * Keeps the server under test and the load that stands for other machines on different cores
 * (sched_setaffinity(2) through taskset(1) of util-linux). On a small machine a remote server
 * and flooding clients that in real life run elsewhere would otherwise take turns with the
 * server under test on its cores, and the scheduler's delays would be measured as its latency.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface CpuPlan {
  /** the server under test and the chatters that measure it, as taskset writes a CPU list */
  server: string;
  /** remote servers and flooding clients */
  load: string;
}

/** Server on CPU 0, load on the rest; undefined on a machine with one CPU, where there is nothing to separate. */
export function planCpus(): CpuPlan | undefined {
  const cpus = availableParallelism();
  if (cpus < 2) return undefined;
  return { server: '0', load: cpus === 2 ? '1' : `1-${cpus - 1}` };
}

/** Pins a process, every thread of it, and its descendants (a server started through a wrapper script) to `cpuList`. */
export function pinProcessTree(pid: number, cpuList: string): void {
  for (const member of [pid, ...descendantsOf(pid)]) {
    execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpuList, String(member)], { stdio: 'ignore' });
  }
}

/** Every process descended from `root`, from the parent ids in /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const pending = [root];
  while (pending.length > 0) {
    for (const child of children.get(pending.pop()!) ?? []) {
      found.push(child);
      pending.push(child);
    }
  }
  return found;
}
