/** Runs the `trellis` command (bin/trellis) against a test server, found as an operator's would be: by the data_dir of a configuration file. */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestServer } from './server.ts';

const TRELLIS = join(import.meta.dirname, '..', '..', 'bin', 'trellis');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function trellisFor(server: TestServer, args: readonly string[]): Promise<CliRun> {
  const configFile = join(server.dataDir, 'cli.yaml');
  writeFileSync(configFile, `data_dir: ${server.dataDir}\nhosts:\n  cli.test: {}\n`);
  return new Promise((resolve) => {
    execFile(TRELLIS, [...args, '--config', configFile], { timeout: 30_000, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
