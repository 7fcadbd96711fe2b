/**
 * Installs a missing Debian package (root only) without letting it start its system service:
 * a temporary /usr/sbin/policy-rc.d that exits 101 forbids service starts during the install
 * (Debian policy, invoke-rc.d(8)). A system instance left running is stopped afterwards.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

const POLICY = '/usr/sbin/policy-rc.d';

/** Installs `pkg` unless every one of `commands` is on the PATH already. */
export async function ensureDebianPackage(pkg: string, commands: string[]): Promise<void> {
  if (commands.every(onPath)) return;
  if (process.getuid?.() !== 0) throw new Error(`${pkg} is not installed; install it with: sudo apt-get install ${pkg}`);
  process.stderr.write(`installing ${pkg} with apt-get (its system service is kept from starting)\n`);
  const ownPolicy = !existsSync(POLICY);
  if (ownPolicy) writeFileSync(POLICY, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } finally {
    if (ownPolicy) rmSync(POLICY, { force: true });
  }
  try {
    execFileSync('service', [pkg, 'stop'], { stdio: 'ignore' });
  } catch {
    // not running, or no service manager: nothing to stop
  }
}

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The installed version of a Debian package, if it is installed. */
export function debianVersion(name: string): string | undefined {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}
