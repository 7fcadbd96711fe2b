/**
 * Raises this process's open-file limit (RLIMIT_NOFILE, setrlimit(2)) to its hard limit with
 * prlimit(1), so that the servers and load generators started afterwards inherit room for every
 * client socket. Raising the hard limit itself needs CAP_SYS_RESOURCE, which a container may lack.
 */
import { execFileSync } from 'node:child_process';

/** Sets the soft limit to the hard one and returns the open files now allowed to each process. */
export function raiseFileLimit(): number {
  const read = (column: 'SOFT' | 'HARD') =>
    execFileSync('prlimit', ['--pid', String(process.pid), '--nofile', '--noheadings', '--output', column], { encoding: 'utf8' }).trim();
  const hard = read('HARD');
  if (hard !== 'unlimited' && read('SOFT') !== hard) execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`]);
  return hard === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(hard);
}
