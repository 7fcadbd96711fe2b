/**
 * The loop every scenario shares: for one server, refuse a taken port, wait for a quiet machine,
 * start the server fresh, run the measurement, stop it. An interrupt (SIGINT/SIGTERM) stops the
 * load generators and the server under test before exiting.
 */
import { killActiveGenerators } from '../load/messaging-run.ts';
import { isListening, stopAllDaemons } from './daemon.ts';
import { waitForQuietMachine } from './proc-stats.ts';
import { SERVERS } from './registry.ts';
import type { ServerOptions, ServerUnderTest } from './server-under-test.ts';

/** busy cores outside the server and generators above which a run counts as disturbed */
export const OTHER_CORES_WARNING = 0.2;

let current: ServerUnderTest | undefined;
/** load generator pools of other kinds register their kill here */
const killers = new Set<() => void>([killActiveGenerators]);

export function onInterruptKill(kill: () => void): () => void {
  killers.add(kill);
  return () => killers.delete(kill);
}

export function stopServersOnInterrupt(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping the load generators and servers\n`);
      for (const kill of killers) kill();
      void Promise.allSettled([current?.stop(), stopAllDaemons()]).finally(() => process.exit(130));
    });
  }
}

export async function stopEverything(): Promise<void> {
  for (const kill of killers) kill();
  await Promise.allSettled([current?.stop(), stopAllDaemons()]);
}

/** Names the server an interrupt or stopEverything stops, for scenarios that start their servers themselves. */
export function trackServer(server: ServerUnderTest | undefined): void {
  current = server;
}

export function checkServerNames(names: string[], fail: (message: string) => never): void {
  for (const name of names) if (!SERVERS[name]) fail(`unknown server "${name}" (known: ${Object.keys(SERVERS).join(', ')})`);
}

/** Starts `name` fresh (after waiting up to `quietWaitSeconds` for an idle machine), runs `measure`, stops it. */
export async function withServer<T>(
  name: string,
  options: Omit<ServerOptions, 'port'>,
  quietWaitSeconds: number,
  measure: (server: ServerUnderTest, port: number) => Promise<T>,
): Promise<T> {
  const { start, port } = SERVERS[name]!;
  if (isListening(options.address, port)) throw new Error(`${options.address}:${port} is already in use; stop whatever listens there first`);
  if (quietWaitSeconds > 0) {
    const quiet = await waitForQuietMachine(OTHER_CORES_WARNING, quietWaitSeconds * 1000);
    if (quiet.busyCores >= OTHER_CORES_WARNING) process.stderr.write(`the machine is still busy (${quiet.busyCores.toFixed(2)} cores) after waiting ${quietWaitSeconds} s; running anyway\n`);
  }
  current = await start({ ...options, port });
  try {
    return await measure(current, port);
  } finally {
    await current.stop();
    current = undefined;
  }
}
