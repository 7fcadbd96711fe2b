/**
 * `npm test`: makes sure the Debian packages the suite drives are present (installing them when
 * running as root, else failing with the exact command), type-checks, then runs every test
 * file with Node's test runner. Nothing is skipped for a missing package.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runInLab } from './support/lab/namespace.ts';
import { ensureLabPackages, installWithoutServices } from './support/lab/packages.ts';

interface Requirement {
  /** Debian package */
  pkg: string;
  /** true when it is usable */
  present: () => boolean;
}

const REQUIREMENTS: Requirement[] = [
  { pkg: 'python3-slixmpp', present: () => spawnSync('/usr/bin/python3', ['-c', 'import slixmpp'], { stdio: 'ignore' }).status === 0 },
  // slixmpp's HTTP File Upload plugin (test/web-upload.test.ts) PUTs with it
  { pkg: 'python3-aiohttp', present: () => spawnSync('/usr/bin/python3', ['-c', 'import aiohttp'], { stdio: 'ignore' }).status === 0 },
  { pkg: 'postgresql', present: () => postgresBinDir() !== undefined },
  // the cluster tests (src/cluster, test/cluster-*.test.ts) share membership, sessions and inboxes through it
  { pkg: 'redis-server', present: () => existsSync('/usr/bin/redis-server') },
  // test/tls-scan.test.ts scans the TLS listeners with it
  { pkg: 'testssl.sh', present: () => existsSync('/usr/bin/testssl') },
  // test/profanity.test.ts drives the Profanity client in a terminal multiplexer
  { pkg: 'profanity', present: () => existsSync('/usr/bin/profanity') },
  { pkg: 'tmux', present: () => existsSync('/usr/bin/tmux') },
  // test/calls-turn.test.ts checks the TURN credentials of XEP-0215 against coturn
  { pkg: 'coturn', present: () => existsSync('/usr/bin/turnserver') },
  // test/console-browser.test.ts drives the web console in it through playwright-core
  { pkg: 'chromium', present: () => existsSync('/usr/bin/chromium') },
];

function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  for (const version of readdirSync(base).sort().reverse()) {
    if (existsSync(join(base, version, 'bin', 'initdb'))) return join(base, version, 'bin');
  }
  return undefined;
}

function ensurePackages(): void {
  const missing = REQUIREMENTS.filter((requirement) => !requirement.present()).map((requirement) => requirement.pkg);
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`The test suite needs Debian packages that are missing: ${missing.join(', ')}\nRun as root: ${command}`);
    process.exit(1);
  }
  console.log(`installing test dependencies: ${missing.join(' ')}`);
  try {
    installWithoutServices(missing, command);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/**
 * Two phases: everything that runs on this machine's loopback, then the federation suite
 * inside a network namespace with its own DNS and peer servers (test/support/lab). Given file
 * arguments, runs only those (test/lab and test/federation files go to the lab).
 */
ensurePackages();
ensureLabPackages();
run(join('node_modules', '.bin', 'tsc'), ['--noEmit', '-p', '.']);
const requested = process.argv.slice(2);
const inLab = (file: string): boolean => /^test\/(lab|federation)\//.test(file);
const local = requested.length > 0 ? requested.filter((file) => !inLab(file)) : ['src/**/*.test.ts', 'test/*.test.ts'];
const lab = requested.length > 0 ? requested.filter(inLab) : ['test/lab/*.test.ts', 'test/federation/*.test.ts'];
let failed = false;
if (local.length > 0) {
  const result = spawnSync(process.execPath, ['--test', '--test-timeout=120000', ...local], { stdio: 'inherit' });
  failed ||= result.status !== 0;
}
if (lab.length > 0) failed ||= (await runInLab(lab)) !== 0;
process.exit(failed ? 1 : 0);
