/**
 * `trellis policy explain --from A --to B`: the configuration file's peering policy, compiled as
 * the server compiles it, asked about one pair of domains (src/policy/explain.ts). Run-time
 * blocks and bans (`trellis s2s block`, `trellis ban`) live in the running server and are not
 * part of the answer.
 */
import type { TrellisConfig } from '../config/types.ts';
import { explain, formatExplanation } from '../policy/explain.ts';
import { PolicySnapshot } from '../policy/snapshot.ts';

export function explainPolicy(config: TrellisConfig, from: string, to: string): number {
  const hosted = new Set(config.hosts.map((host) => host.domain));
  let explanation;
  try {
    explanation = explain(new PolicySnapshot(config), (domain) => hosted.has(domain), from, to);
  } catch (error) {
    process.stderr.write(`trellis: ${(error as Error).message}\n`);
    return 2;
  }
  process.stdout.write(formatExplanation(explanation));
  return explanation.direction === 'none' ? 1 : 0;
}
