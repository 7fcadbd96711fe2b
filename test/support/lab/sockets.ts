/** TCP connections counted from the sockets in the lab namespace (ss(8)), not from what servers report. */
import { spawnSync } from 'node:child_process';

/**
 * Established TCP connections to `port` on any of `addresses`: each counted once, by its client
 * end (inside the namespace both ends are local sockets).
 */
export function establishedConnections(addresses: readonly string[], port: number): number {
  const filter = addresses.map((address) => `dst ${address}:${port}`).join(' or ');
  const result = spawnSync('ss', ['-tnH', 'state', 'established', `( ${filter} )`], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ss failed: ${result.stderr}`);
  return result.stdout.split('\n').filter((line) => line.trim() !== '').length;
}
