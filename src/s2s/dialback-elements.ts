/** Dialback answers and errors (XEP-0220 sections 2.4 and 2.5). */
import { Element, NS_SERVER } from '../xml/element.ts';
import { NS_DIALBACK } from '../xml/namespaces.ts';
import { NS_STANZA_ERRORS, type StanzaErrorCondition, type StanzaErrorType } from '../xml/stanza-error.ts';

/** `<db:result/>` or `<db:verify/>` answering a request: from and to swapped, id copied (verify). */
export function dialbackAnswer(request: Element, type: 'valid' | 'invalid'): Element {
  const attrs: Record<string, string> = { from: request.attrs.to ?? '', to: request.attrs.from ?? '', type };
  if (request.name === 'verify' && request.attrs.id !== undefined) attrs.id = request.attrs.id;
  return new Element(request.name, NS_DIALBACK, attrs);
}

/**
 * A dialback error (XEP-0220 section 2.5): type "error" with an <error/> in the jabber:server
 * namespace holding a stanza error condition. It does not end the stream.
 */
export function dialbackError(request: Element, condition: StanzaErrorCondition, type: StanzaErrorType = 'cancel', text?: string): Element {
  const answer = dialbackAnswer(request, 'invalid');
  answer.attrs.type = 'error';
  const error = answer.c('error', { type }, NS_SERVER);
  error.c(condition, {}, NS_STANZA_ERRORS);
  if (text) error.c('text', { 'xml:lang': 'en' }, NS_STANZA_ERRORS).t(text);
  return answer;
}

/** The text of a received dialback error, else its condition, if any. */
export function dialbackErrorText(answer: Element): string | undefined {
  const error = answer.elements().find((child) => child.name === 'error');
  return error?.getChildText('text', NS_STANZA_ERRORS) ?? dialbackErrorCondition(answer);
}

/** The condition of a received dialback error, if any. */
export function dialbackErrorCondition(answer: Element): string | undefined {
  const error = answer.elements().find((child) => child.name === 'error');
  return error?.elements().find((child) => child.xmlns === NS_STANZA_ERRORS && child.name !== 'text')?.name;
}
