/** Event notifications (XEP-0060 section 7.1.2, 7.2.2, 8.4.2, 8.5.2): messages from the service to each recipient. */
import { randomUUID } from 'node:crypto';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import { NS_PUBSUB_EVENT } from './xmlns.ts';

/** `<items node>` with published items (their payload unless deliver_payloads is off) or retractions. */
export function itemsEvent(node: string, published: readonly Element[], retracted: readonly string[], withPayload: boolean): Element {
  const items = el('items', NS_PUBSUB_EVENT, { node });
  for (const item of published) items.append(el('item', NS_PUBSUB_EVENT, { id: item.attrs.id, publisher: item.attrs.publisher }, ...(withPayload ? item.elements().map((payload) => payload.clone()) : [])));
  for (const id of retracted) items.c('retract', { id });
  return items;
}

/** Section 6.1.7 and 7.1.2.1: a headline message carrying one event. */
export function eventMessage(from: string, to: string, event: Element): Element {
  return el('message', NS_CLIENT, { from, to, type: 'headline', id: randomUUID() }, el('event', NS_PUBSUB_EVENT, {}, event));
}
