/**
 * Stream management (XEP-0198) on the wire: the namespace, the elements the server writes, and
 * the arithmetic of its counters, shared by client and server streams.
 */
import { escapeAttr } from '../xml/serialize.ts';

export const NS_SM = 'urn:xmpp:sm:3';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** XEP-0198 section 4: the counters wrap at 2^32. */
const MODULUS = 2 ** 32;

export function wrap(count: number): number {
  return count % MODULUS;
}

/**
 * Parses the `h` attribute of <a/> or <resume/>: an unsigned 32-bit integer (XEP-0198
 * section 4). Returns undefined when it is absent or not such a number.
 */
export function parseH(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return undefined;
  const h = Number(value);
  return h < MODULUS ? h : undefined;
}

/**
 * How many of `sent` stanzas an acknowledged count `h` covers, or undefined when `h` claims
 * more than was sent. `sent` is the true (unwrapped) count; `h` is taken modulo 2^32 and
 * nearest below `sent`, so a long-lived stream that wrapped still works.
 */
export function acknowledgedCount(h: number, sent: number): number | undefined {
  const lag = wrap(wrap(sent) - h + MODULUS);
  return lag <= sent ? sent - lag : undefined;
}

export function enabledElement(id: string | undefined, maxSeconds: number): string {
  return id === undefined ? `<enabled xmlns='${NS_SM}'/>` : `<enabled xmlns='${NS_SM}' id='${escapeAttr(id)}' resume='true' max='${maxSeconds}'/>`;
}

export function resumedElement(previd: string, h: number): string {
  return `<resumed xmlns='${NS_SM}' previd='${escapeAttr(previd)}' h='${wrap(h)}'/>`;
}

/** XEP-0198 sections 3 and 5: <failed/> with a stanza error condition, and `h` when the server knows it. */
export function failedElement(condition: 'unexpected-request' | 'item-not-found' | 'feature-not-implemented', h?: number): string {
  const hAttr = h === undefined ? '' : ` h='${wrap(h)}'`;
  return `<failed xmlns='${NS_SM}'${hAttr}><${condition} xmlns='${NS_STANZAS}'/></failed>`;
}

export function ackElement(h: number): string {
  return `<a xmlns='${NS_SM}' h='${wrap(h)}'/>`;
}

export const ackRequest = `<r xmlns='${NS_SM}'/>`;

/** XEP-0198 section 4: the error for an <a/> acknowledging more than was sent. */
export function handledCountTooHigh(h: number, sent: number): string {
  return `<handled-count-too-high xmlns='${NS_SM}' h='${h}' send-count='${wrap(sent)}'/>`;
}
