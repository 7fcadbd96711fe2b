/**
 * Runs a benchmark scenario inside a network namespace of its own with the lab's DNS
 * (test/support/lab/namespace.ts): called from the root namespace it creates the namespace, runs
 * the same script inside it with `ip netns exec` and a scratch TMPDIR, and always removes both,
 * whatever happens; inside, it runs `main`, then `stop` (by default: stop every server daemon
 * started), on an error or an interrupt too. Needs root.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_RESOLVER_ADDRESS } from '../../test/support/lab/dns.ts';
import { assertInsideLab, createLabNamespace } from '../../test/support/lab/namespace.ts';
import { stopAllDaemons } from '../servers/daemon.ts';

const INSIDE_LAB = 'TRELLIS_BENCH_INSIDE_LAB';

export async function runScenarioInLab(scenario: string, script: string, main: () => Promise<void>, stop: () => Promise<void> = stopAllDaemons): Promise<void> {
  if (process.env[INSIDE_LAB] === undefined) {
    process.exitCode = await runInsideNewLab(scenario, script);
    return;
  }
  assertInsideLab();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop().finally(() => process.exit(130)));
  try {
    await main();
  } catch (error) {
    process.stderr.write(`${scenario} benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    await stop();
  }
}

async function runInsideNewLab(scenario: string, script: string): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write(`the ${scenario} benchmark needs root: it creates a network namespace with its own DNS\n`);
    return 2;
  }
  const lab = await createLabNamespace(LAB_RESOLVER_ADDRESS);
  const scratch = mkdtempSync(join(tmpdir(), `trellis-${scenario}-bench-`));
  try {
    const [command, ...args] = lab.exec(process.execPath, [script, ...process.argv.slice(2)]);
    const child = spawn(command!, args, { stdio: 'inherit', env: { ...process.env, [INSIDE_LAB]: lab.name, TMPDIR: scratch } });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    return await new Promise<number>((resolve) => {
      child.once('error', () => resolve(1));
      child.once('exit', (code) => resolve(code ?? 1));
    });
  } finally {
    await lab.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
}
