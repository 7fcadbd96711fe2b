/**
 * Ordering of SRV records for connection attempts (RFC 2782, "Usage rules" and the description
 * of the Weight field).
 */

/** One SRV answer; the same shape as node:dns `SrvRecord`. */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/**
 * The order in which to try the records: lowest priority first; within one priority a weighted
 * random selection repeated until none is left. For each pick, the records not yet chosen are
 * listed with the weight-0 ones first, each carrying the running sum of weights; a uniform
 * integer is drawn in [0, sum] (inclusive) and the first record whose running sum reaches it is
 * taken. A weight-0 record therefore comes first only when the draw is 0.
 *
 * `random` returns a number in [0, 1), like Math.random (injectable for tests).
 */
export function orderSrvRecords<T extends SrvRecord>(records: readonly T[], random: () => number = Math.random): T[] {
  const priorities = [...new Set(records.map((record) => record.priority))].sort((a, b) => a - b);
  const ordered: T[] = [];
  for (const priority of priorities) {
    const remaining = records.filter((record) => record.priority === priority);
    while (remaining.length > 0) {
      remaining.sort((a, b) => Number(a.weight !== 0) - Number(b.weight !== 0));
      const sum = remaining.reduce((total, record) => total + record.weight, 0);
      const draw = Math.floor(random() * (sum + 1));
      let running = 0;
      let chosen = remaining.length - 1;
      for (let index = 0; index < remaining.length; index++) {
        running += remaining[index]!.weight;
        if (running >= draw) {
          chosen = index;
          break;
        }
      }
      ordered.push(remaining.splice(chosen, 1)[0]!);
    }
  }
  return ordered;
}
