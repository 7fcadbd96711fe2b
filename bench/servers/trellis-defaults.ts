/**
 * Trellis as an operator first starts it: the default configuration (one host, `localhost`, a
 * self-signed certificate generated into a fresh data directory, SQLite, the admin socket) with
 * only the listeners moved to the benchmark address, through bin/trellis. For the start-up
 * memory scenario; the load scenarios use startTrellis.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerUnderTest } from './server-under-test.ts';
import { launchTrellis } from './trellis.ts';

export async function startTrellisDefaults(address: string, c2sPort: number, s2sPort: number): Promise<ServerUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'trellis-bench-'));
  const configFile = join(dir, 'trellis.yaml');
  try {
    await writeFile(configFile, `# The default configuration, listeners on the benchmark address.
data_dir: ${JSON.stringify(join(dir, 'data'))}
listeners:
  c2s: { addresses: [${JSON.stringify(address)}], port: ${c2sPort} }
  s2s: { addresses: [${JSON.stringify(address)}], port: ${s2sPort} }
hosts:
  localhost: {}
`);
    return await launchTrellis(dir, configFile, address, c2sPort, [`the defaults, with listeners.c2s on ${address}:${c2sPort} and listeners.s2s on ${address}:${s2sPort}; a fresh data_dir`]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
