/**
 * Receipts: whoever hands a stanza on and must know when it no longer depends on this process
 * (a cluster node acknowledging the inbox entry it came from, docs/cluster.md "Federation")
 * attaches a receipt to it. The receipt travels with the stanza and is called once: when the
 * stanza is safe (written to a peer's socket, or acknowledged by a peer that acknowledges
 * stanzas, s2s/delivery-tracker.ts; appended to another node's inbox), or when it bounced
 * (router.ts `bounce`): either way nothing more will be done with it here.
 */
import type { Element } from '../xml/element.ts';

export type Receipt = () => void;

const receipts = new WeakMap<Element, Receipt>();

/** Attaches `receipt` to the stanza, to be called once the stanza is safe or failed. */
export function attachReceipt(stanza: Element, receipt: Receipt | undefined): void {
  if (receipt !== undefined) receipts.set(stanza, receipt);
}

/** Detaches the stanza's receipt: the caller now holds it and calls it when the stanza is safe. */
export function takeReceipt(stanza: Element): Receipt | undefined {
  const receipt = receipts.get(stanza);
  if (receipt !== undefined) receipts.delete(stanza);
  return receipt;
}

/** The stanza is safe, or failed for good: its receipt, if it has one, is called. */
export function settleReceipt(stanza: Element): void {
  takeReceipt(stanza)?.();
}
