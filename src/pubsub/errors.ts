/** Stanza errors with XEP-0060's application-specific conditions (section 16.2.4, pubsub#errors). */
import { el } from '../xml/element.ts';
import { StanzaError, type StanzaErrorCondition } from '../xml/stanza-error.ts';
import { NS_PUBSUB_ERRORS } from './xmlns.ts';

export function pubsubError(condition: StanzaErrorCondition, appCondition: string | undefined, text?: string): StanzaError {
  const error = new StanzaError(condition, text);
  if (appCondition !== undefined) error.appCondition = el(appCondition, NS_PUBSUB_ERRORS);
  return error;
}

/** Section 7.1.3.3 and others: the node does not exist. */
export function nodeNotFound(node: string): StanzaError {
  return new StanzaError('item-not-found', `no node ${JSON.stringify(node)}`);
}
