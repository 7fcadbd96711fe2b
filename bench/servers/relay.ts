/**
 * The trivial TCP relay (relay-server.ts) as a server under test: a Node process like Trellis,
 * with no XML work at all, driven by the same load generator (see bench/load/bench-client.ts,
 * `BenchClient.connectRelay`). It shows what the machine and Node's sockets can move.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, waitForListener } from './daemon.ts';
import type { ServerOptions, ServerUnderTest } from './server-under-test.ts';

export async function startRelay(options: ServerOptions): Promise<ServerUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-bench-'));
  try {
    const daemon = startDaemon('relay', process.execPath, [join(import.meta.dirname, 'relay-server.ts'), options.address, String(options.port)], {
      cwd: dir,
      outputFile: join(dir, 'relay.out'),
    });
    try {
      await waitForListener(daemon, options.address, options.port);
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return {
      name: 'relay',
      version: `TCP relay (bench/servers/relay-server.ts) on Node ${process.version}`,
      pid: daemon.pid,
      settings: [`${options.address}:${options.port}; first line names the client and its peer, then bytes are forwarded unchanged (no XML, no login)`],
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
