/** Stanza errors (RFC 6120 section 8.3): one stanza bounced, the stream lives on. */
import { Element, el } from './element.ts';
import { NS_SECURITY_LABEL } from './namespaces.ts';

export const NS_STANZA_ERRORS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'gone'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'redirect'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'undefined-condition'
  | 'unexpected-request';

/** The error type each condition carries unless told otherwise (RFC 6120 section 8.3.3). */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

/**
 * A failure that bounces one stanza back to its sender. It is an expected outcome, not a fault:
 * it carries no stack trace, whose capture costs more than the rest of a bounce (a remote server
 * that floods a slow peer has every excess stanza bounced).
 */
export class StanzaError extends Error {
  readonly condition: StanzaErrorCondition;
  readonly type: StanzaErrorType;
  /** the entity generating the error, when it is not the stanza's addressee (RFC 6120 section 8.3.2 `by`) */
  readonly by?: string;
  /** an application-specific condition element (RFC 6120 section 8.3.4), such as XEP-0060's pubsub#errors */
  appCondition?: Element;
  /** the reply carries none of the stanza's payload: a refusal by security label (XEP-0258 section 5) */
  withholdsContent?: boolean;
  constructor(condition: StanzaErrorCondition, text?: string, type?: StanzaErrorType, by?: string) {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(text ?? condition);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'StanzaError';
    this.condition = condition;
    this.type = type ?? DEFAULT_TYPE[condition];
    this.by = by;
  }
  get text(): string | undefined {
    return this.message === this.condition ? undefined : this.message;
  }
}

/**
 * XEP-0086 section 3: the legacy error code of each condition it maps (policy-violation came
 * with RFC 6120 and has none). COMPAT(Profanity): clients from before RFC 6120 still read the
 * code; Profanity 0.13 takes an error to its request for its own OMEMO device list for "no list
 * yet", and publishes its first one, only when the code is 404.
 */
const LEGACY_CODE: Partial<Record<StanzaErrorCondition, string>> = {
  'bad-request': '400',
  conflict: '409',
  'feature-not-implemented': '501',
  forbidden: '403',
  gone: '302',
  'internal-server-error': '500',
  'item-not-found': '404',
  'jid-malformed': '400',
  'not-acceptable': '406',
  'not-allowed': '405',
  'not-authorized': '401',
  'recipient-unavailable': '404',
  redirect: '302',
  'registration-required': '407',
  'remote-server-not-found': '404',
  'remote-server-timeout': '504',
  'resource-constraint': '500',
  'service-unavailable': '503',
  'subscription-required': '407',
  'undefined-condition': '500',
  'unexpected-request': '400',
};

/** True for stanzas that must never be answered with an error (RFC 6120 section 8.3.1). */
export function isErrorOrResult(stanza: Element): boolean {
  const type = stanza.attrs.type;
  return type === 'error' || (stanza.name === 'iq' && type === 'result');
}

/**
 * The error reply to a stanza: addresses swapped, same id, type "error", and for messages and
 * presence the original payload kept (RFC 6120 section 8.3.1 allows it; it helps the sender)
 * unless the error withholds it.
 * Returns undefined for stanzas that must not be answered.
 */
export function errorReply(stanza: Element, error: StanzaError): Element | undefined {
  if (isErrorOrResult(stanza)) return undefined;
  const reply = el(stanza.name, stanza.xmlns, {
    from: stanza.attrs.to,
    to: stanza.attrs.from,
    id: stanza.attrs.id,
    type: 'error',
  });
  // XEP-0258 section 5: an error never carries a security label (it is not itself label-checked).
  if (stanza.name !== 'iq' && !error.withholdsContent) for (const child of stanza.children) if (typeof child !== 'string' && child.xmlns !== NS_SECURITY_LABEL) reply.append(child);
  const code = LEGACY_CODE[error.condition];
  const errorElement = reply.c('error', { type: error.type, ...(error.by ? { by: error.by } : {}), ...(code ? { code } : {}) });
  errorElement.c(error.condition, {}, NS_STANZA_ERRORS);
  if (error.text) errorElement.c('text', { 'xml:lang': 'en' }, NS_STANZA_ERRORS).t(error.text);
  if (error.appCondition) errorElement.append(error.appCondition.clone());
  return reply;
}

/** An IQ result for a request (RFC 6120 section 8.2.3), optionally with a payload. */
export function iqResult(request: Element, payload?: Element): Element {
  const result = el('iq', request.xmlns, { from: request.attrs.to, to: request.attrs.from, id: request.attrs.id, type: 'result' });
  if (payload) result.append(payload);
  return result;
}
