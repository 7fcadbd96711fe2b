/**
 * The network namespace the federation tests run in (ip-netns(8)). Inside it all of 127.0.0.0/8
 * is local and free, nothing leaves the machine, and `ip netns exec` bind-mounts
 * /etc/netns/<name>/resolv.conf over /etc/resolv.conf so every resolver asks the lab DNS. Used
 * from the root namespace by the test runner, as root:
 *   ensureLabPackages();                       // packages.ts
 *   const code = await runInLab(['test/lab/*.test.ts']);
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_RESOLVER_ADDRESS } from './dns.ts';

export interface LabNamespace {
  name: string;
  /** argv that runs `command args` inside the namespace */
  exec(command: string, args: string[]): string[];
  destroy(): Promise<void>;
}

/** Per-test-file limit inside the lab; starting the peers takes a few seconds. */
const TEST_TIMEOUT_MS = 180_000;

const NETNS_ETC = '/etc/netns';
const liveNamespaces = new Set<string>();
let hooksInstalled = false;
let counter = 0;

export async function createLabNamespace(resolverAddress: string): Promise<LabNamespace> {
  if (process.getuid?.() !== 0) throw new Error('the federation lab needs root to create a network namespace');
  installExitHooks();
  const name = `trellis-lab-${process.pid}-${counter++}`;
  liveNamespaces.add(name);
  try {
    ip('netns', 'add', name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    mkdirSync(join(NETNS_ETC, name), { recursive: true });
    // resolv.conf(5); short timeouts keep lookups that fail on purpose from stalling tests.
    writeFileSync(join(NETNS_ETC, name, 'resolv.conf'), `nameserver ${resolverAddress}\noptions timeout:2 attempts:2\n`);
  } catch (error) {
    destroyNow(name);
    throw error;
  }
  return {
    name,
    exec: (command, args) => ['ip', 'netns', 'exec', name, command, ...args],
    destroy: async () => destroyNow(name),
  };
}

/**
 * Runs `files` with Node's test runner inside a fresh lab namespace and returns its exit code.
 * Files run one at a time: they share the lab's fixed DNS addresses.
 */
export async function runInLab(files: string[], { testTimeoutMs = TEST_TIMEOUT_MS }: { testTimeoutMs?: number } = {}): Promise<number> {
  // Node's test runner passes over a named file that does not exist without a word.
  const absent = files.filter((file) => !/[*?[{]/.test(file) && !existsSync(file));
  if (absent.length > 0) throw new Error(`no such test file: ${absent.join(', ')}`);
  const lab = await createLabNamespace(LAB_RESOLVER_ADDRESS);
  // The tests' temp files go here, so even a test process that was killed leaves nothing behind.
  const scratch = mkdtempSync(join(tmpdir(), 'trellis-lab-run-'));
  // Traversable (not listable) by the service users tests run servers as, such as postgres.
  chmodSync(scratch, 0o711);
  try {
    const [command, ...args] = lab.exec(process.execPath, ['--test', '--test-concurrency=1', `--test-timeout=${testTimeoutMs}`, ...files]);
    const child = spawn(command!, args, { stdio: 'inherit', env: { ...process.env, TMPDIR: scratch } });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    try {
      return await new Promise<number>((resolve) => {
        child.once('error', () => resolve(1));
        child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
      });
    } finally {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    }
  } finally {
    await lab.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Fails unless this process runs inside a lab namespace (its resolv.conf names the lab resolver). */
export function assertInsideLab(): void {
  const resolvConf = readFileSync('/etc/resolv.conf', 'utf8');
  if (!new RegExp(`^nameserver ${LAB_RESOLVER_ADDRESS.replaceAll('.', '\\.')}$`, 'm').test(resolvConf)) {
    throw new Error('this test runs inside the federation lab namespace: use runInLab() from test/support/lab/namespace.ts');
  }
}

function ip(...args: string[]): string {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** Ends whatever still runs in the namespace, then removes it and its /etc/netns entry. */
function destroyNow(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
  for (const pid of pids.stdout?.split('\n').filter((line) => line !== '') ?? []) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  rmSync(join(NETNS_ETC, name), { recursive: true, force: true });
  liveNamespaces.delete(name);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const name of [...liveNamespaces]) destroyNow(name);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const name of [...liveNamespaces]) destroyNow(name);
      process.kill(process.pid, signal);
    });
  }
}
