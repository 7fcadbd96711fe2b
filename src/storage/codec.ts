/**
 * Text encodings shared by the drivers for values that are stored as a single column.
 */
import type { StoredCredentials, Subscription } from './types.ts';

export function encodeCredentials(credentials: StoredCredentials): string {
  return JSON.stringify({
    'SCRAM-SHA-1': credentials['SCRAM-SHA-1'],
    'SCRAM-SHA-256': credentials['SCRAM-SHA-256'],
  });
}

export function decodeCredentials(text: string): StoredCredentials {
  return JSON.parse(text) as StoredCredentials;
}

export function encodeGroups(groups: readonly string[]): string {
  return JSON.stringify(groups);
}

export function decodeGroups(text: string): string[] {
  return JSON.parse(text) as string[];
}

const SUBSCRIPTIONS: readonly string[] = ['none', 'to', 'from', 'both'] satisfies Subscription[];

export function decodeSubscription(text: string): Subscription {
  if (!SUBSCRIPTIONS.includes(text)) throw new Error(`stored roster subscription is invalid: ${text}`);
  return text as Subscription;
}
