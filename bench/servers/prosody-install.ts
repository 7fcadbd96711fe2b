/**
 * Installs Debian's Prosody when it is missing (root only), without letting the package start
 * its system service: a temporary /usr/sbin/policy-rc.d that exits 101 forbids service starts
 * during the install (Debian policy, invoke-rc.d). A system Prosody left running is stopped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

const POLICY = '/usr/sbin/policy-rc.d';

export async function ensureProsodyInstalled(): Promise<void> {
  if (onPath('prosody') && onPath('prosodyctl')) return;
  if (process.getuid?.() !== 0) throw new Error('prosody is not installed; install it with: sudo apt-get install prosody');
  process.stderr.write('installing prosody with apt-get (its system service is kept from starting)\n');
  const ownPolicy = !existsSync(POLICY);
  if (ownPolicy) writeFileSync(POLICY, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'prosody'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } finally {
    if (ownPolicy) rmSync(POLICY, { force: true });
  }
  try {
    execFileSync('service', ['prosody', 'stop'], { stdio: 'ignore' });
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
