/**
 * A Node program of the benchmarks' own as a server under test (the TCP relay, Node's own
 * floors): run with the Node that runs the benchmarks, in a fresh directory that is removed when
 * it stops, ready once it listens on the client port.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, waitForListener } from './daemon.ts';
import type { ServerUnderTest } from './server-under-test.ts';

export interface NodeProgram {
  name: string;
  program: string;
  /** the program's arguments, given the fresh directory */
  args(dir: string): string[];
  address: string;
  port: number;
  version: string;
  settings: string[];
}

export async function startNodeProgram(spec: NodeProgram): Promise<ServerUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), `${spec.name}-bench-`));
  try {
    const daemon = startDaemon(spec.name, process.execPath, [spec.program, ...spec.args(dir)], { cwd: dir, outputFile: join(dir, `${spec.name}.out`) });
    try {
      await waitForListener(daemon, spec.address, spec.port);
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return {
      name: spec.name,
      version: spec.version,
      pid: daemon.pid,
      settings: spec.settings,
      async stop() {
        await daemon.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
