/** Small pieces every DNS question here uses: telling absence from failure, and sharing a question asked twice at once. */

/** The answer to a question already being asked, else a new query whose answer those asking meanwhile share. */
export function shareInFlight<T>(inFlight: Map<string, Promise<T>>, key: string, query: () => Promise<T>): Promise<T> {
  let pending = inFlight.get(key);
  if (!pending) {
    pending = query().finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

/** True when a lookup failed because the records do not exist, as opposed to an unknown answer. */
export function isNoRecords(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}
