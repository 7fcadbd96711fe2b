/**
 * The notification a server publishes to an app server (XEP-0357 section 7): a pubsub publish
 * of `<notification/>` with the summary form (`urn:xmpp:push:summary`), holding only what the
 * operator lets out: the count of messages always, the last sender and body only when
 * configured, since the app server may belong to someone else (section 9).
 */
import { randomUUID } from 'node:crypto';
import type { PushSettings } from '../../config/types.ts';
import { parseElement } from '../../xml/parse-element.ts';
import { el, NS_CLIENT, type Element } from '../../xml/element.ts';
import { NS_DATA_FORMS } from '../../xml/namespaces.ts';
import type { PushRegistration } from './registrations.ts';

export const NS_PUSH = 'urn:xmpp:push:0';
const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const SUMMARY = 'urn:xmpp:push:summary';

export interface Summary {
  messageCount: number;
  lastSender: string;
  lastBody: string | undefined;
}

export function notificationIq(account: string, registration: PushRegistration, summary: Summary, settings: PushSettings): Element {
  const form = el('x', NS_DATA_FORMS, { type: 'submit' });
  const field = (name: string, value: string) => form.c('field', { var: name }).c('value').t(value);
  field('FORM_TYPE', SUMMARY);
  field('message-count', String(summary.messageCount));
  if (settings.include_sender) field('last-message-sender', summary.lastSender);
  if (settings.include_body && summary.lastBody !== undefined) field('last-message-body', summary.lastBody);
  const pubsub = el('pubsub', NS_PUBSUB, {}, el('publish', NS_PUBSUB, { node: registration.node }, el('item', NS_PUBSUB, {}, el('notification', NS_PUSH, {}, form))));
  // Section 5: the client's publish options (its secret, say) go with every publish.
  if (registration.options !== undefined) pubsub.append(el('publish-options', NS_PUBSUB, {}, parseElement(registration.options)));
  return el('iq', NS_CLIENT, { type: 'set', from: account, to: registration.jid, id: randomUUID() }, pubsub);
}
