/**
 * `npm test`: makes sure the Debian packages the suite drives are present (installing them when
 * running as root, else failing with the exact command), type-checks, then runs every test
 * file with Node's test runner. Nothing is skipped for a missing package.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface Requirement {
  /** Debian package */
  pkg: string;
  /** true when it is usable */
  present: () => boolean;
}

const REQUIREMENTS: Requirement[] = [
  { pkg: 'python3-slixmpp', present: () => spawnSync('/usr/bin/python3', ['-c', 'import slixmpp'], { stdio: 'ignore' }).status === 0 },
  { pkg: 'postgresql', present: () => postgresBinDir() !== undefined },
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
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...missing]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (result.status !== 0) {
      console.error(`apt-get ${args.join(' ')} failed; install by hand: ${command}`);
      process.exit(1);
    }
  }
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

ensurePackages();
run(join('node_modules', '.bin', 'tsc'), ['--noEmit', '-p', '.']);
const files = process.argv.slice(2);
run(process.execPath, ['--test', '--test-timeout=120000', ...(files.length > 0 ? files : ['src/**/*.test.ts', 'test/*.test.ts'])]);
