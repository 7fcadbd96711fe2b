/**
 * The Debian packages the federation lab drives, and a check that installs the missing ones
 * without letting their system services start (the lab runs its own private instances).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

export const LAB_PACKAGES: readonly string[] = [
  'prosody',
  // Prosody resolves through libunbound when this binding is present, which is what the lab's
  // DNSSEC-signed zones exercise.
  'lua-unbound',
  'ejabberd',
  'jabberd2',
  // jabberd2 links libidn.so.12
  'libidn12',
  'nsd',
  'unbound',
  // ldns-keygen, ldns-signzone, ldns-key2ds and drill
  'ldnsutils',
  'python3-slixmpp',
  // the XMPP-IRC gateway run as an external component, and the IRC server it reaches (test/lab/biboumi.test.ts)
  'biboumi',
  'ngircd',
  // the SIP-XMPP gateway (test/lab/kamailio.test.ts), the SIP user agent on its other side, and
  // what builds the library preloaded into Kamailio (contrib/kamailio/expat-attribute-sentinel.c)
  'kamailio',
  'kamailio-xmpp-modules',
  'baresip-core',
  'gcc',
  'libc6-dev',
  'libexpat1-dev',
  'iproute2',
  'openssl',
];

/** Services the packages the suite installs would start from their maintainer scripts, and the users they run as. */
const PACKAGED_SERVICES: readonly { service: string; user: string }[] = [
  { service: 'prosody', user: 'prosody' },
  { service: 'ejabberd', user: 'ejabberd' },
  { service: 'jabberd2', user: 'jabber' },
  { service: 'nsd', user: 'nsd' },
  { service: 'unbound', user: 'unbound' },
  { service: 'biboumi', user: '_biboumi' },
  { service: 'ngircd', user: 'irc' },
  { service: 'kamailio', user: 'kamailio' },
  // installed by test/run.ts for the local suite, which starts private instances of them too
  { service: 'redis-server', user: 'redis' },
  { service: 'postgresql', user: 'postgres' },
  { service: 'coturn', user: 'turnserver' },
];

/**
 * invoke-rc.d consults this script before starting anything; exit status 101 means "action
 * forbidden" (Debian policy, section 9.3.3, and invoke-rc.d(8)).
 */
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

export function missingLabPackages(): string[] {
  return LAB_PACKAGES.filter((pkg) => !isInstalled(pkg));
}

export function labInstallCommand(packages: readonly string[] = missingLabPackages()): string {
  return `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/**
 * Installs what is missing when running as root; otherwise throws with the exact command to run.
 * Afterwards no system instance of the lab's services is left running.
 */
export function ensureLabPackages(): void {
  const missing = missingLabPackages();
  if (missing.length === 0) return;
  const command = labInstallCommand(missing);
  if (process.getuid?.() !== 0) {
    throw new Error(`The federation lab needs Debian packages that are missing: ${missing.join(', ')}\nRun as root: ${command}`);
  }
  installWithoutServices(missing, command);
  const stillMissing = missingLabPackages();
  if (stillMissing.length > 0) throw new Error(`still missing after apt-get: ${stillMissing.join(', ')}`);
}

function isInstalled(pkg: string): boolean {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim() === 'install ok installed';
}

/**
 * `apt-get install` of `packages` with invoke-rc.d told to start nothing, and any system
 * instance that started anyway stopped: the suite runs its own private instances and leaves no
 * daemon behind. Throws naming `command` when apt-get fails.
 */
export function installWithoutServices(packages: readonly string[], command: string): void {
  const previousPolicy = existsSync(POLICY_RC_D) ? readFileSync(POLICY_RC_D) : undefined;
  writeFileSync(POLICY_RC_D, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...packages]]) {
      const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
      if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed; install by hand: ${command}`);
    }
  } finally {
    if (previousPolicy === undefined) rmSync(POLICY_RC_D, { force: true });
    else writeFileSync(POLICY_RC_D, previousPolicy, { mode: 0o755 });
    stopSystemServices();
  }
}

/**
 * Stops any system instance that started despite the policy (a machine with systemd ignores it).
 * Each service runs under its own system user; this runs right after apt-get, before any of the
 * suite's private instances start, so whatever runs under these users was started by the packages. epmd belongs to ejabberd here.
 */
function stopSystemServices(): void {
  for (const { service, user } of PACKAGED_SERVICES) {
    if (processesOf(user).length === 0) continue;
    spawnSync('systemctl', ['stop', service], { stdio: 'ignore' });
    spawnSync(`/etc/init.d/${service}`, ['stop'], { stdio: 'ignore' });
    for (const pid of processesOf(user)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}

function processesOf(user: string): number[] {
  const result = spawnSync('pgrep', ['-u', user], { encoding: 'utf8' });
  return result.stdout.split('\n').filter((line) => line !== '').map(Number);
}
