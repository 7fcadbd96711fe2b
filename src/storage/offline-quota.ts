/** The quota rules both storage drivers apply to offline mailboxes. */
import type { OfflineMessage, OfflinePush, OfflineQuota } from './types.ts';

/** Whether a message of `bytes` fits a mailbox holding `messages` of `storedBytes` in all, `fromSender` of them from its sender. */
export function overQuota(messages: number, storedBytes: number, fromSender: number, bytes: number, quota: OfflineQuota): OfflinePush {
  if (messages >= quota.maxMessages || storedBytes + bytes > quota.maxBytes) return 'mailbox-full';
  if (fromSender >= quota.maxPerSender) return 'sender-limit';
  return 'stored';
}

/** The leading messages whose bytes add up to at most `maxBytes`; the first always, so that a large message is never stuck. */
export function withinBytes(rows: readonly (OfflineMessage & { bytes: number })[], maxBytes: number): OfflineMessage[] {
  const taken: OfflineMessage[] = [];
  let total = 0;
  for (const { bytes, ...message } of rows) {
    total += bytes;
    if (taken.length > 0 && total > maxBytes) break;
    taken.push(message);
  }
  return taken;
}
