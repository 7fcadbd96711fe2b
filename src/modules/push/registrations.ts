/**
 * Push registrations (XEP-0357 section 5): the app servers (a pubsub service and node) a user's
 * devices asked to be told about, with the publish options each gave, kept in the user's data.
 */
import { parseJid, JidMalformedError } from '../../jid/jid.ts';
import type { UserDataStore } from '../../storage/types.ts';
import type { Element } from '../../xml/element.ts';
import { serialize } from '../../xml/serialize.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { NS_DATA_FORMS } from '../../xml/namespaces.ts';

export const REGISTRATION_PREFIX = 'push:';
const NS_PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options';

export interface PushRegistration {
  /** the app server's pubsub service */
  jid: string;
  node: string;
  /** the publish-options form (XEP-0357 section 5), serialized, if the client gave one */
  options: string | undefined;
}

/** Section 5: `<enable jid='…' node='…'>` with an optional publish-options form. */
export function parseEnable(enable: Element): PushRegistration {
  const node = enable.attrs.node;
  if (node === undefined || node === '') throw new StanzaError('bad-request', 'enable needs a node');
  const form = enable.getChildren('x', NS_DATA_FORMS).find((x) => x.getChildren('field').some((field) => field.attrs.var === 'FORM_TYPE' && field.getChildText('value') === NS_PUBLISH_OPTIONS));
  return { jid: serviceJid(enable.attrs.jid), node, options: form === undefined ? undefined : serialize(form) };
}

/** Section 6: `<disable jid='…'/>` disables every node of that service, `node` only that one. */
export function parseDisable(disable: Element): { jid: string; node: string | undefined } {
  const node = disable.attrs.node;
  return { jid: serviceJid(disable.attrs.jid), node: node === '' ? undefined : node };
}

function serviceJid(value: string | undefined): string {
  if (value === undefined) throw new StanzaError('bad-request', 'the app server\'s jid is missing');
  try {
    return parseJid(value).toString();
  } catch (error) {
    if (error instanceof JidMalformedError) throw new StanzaError('jid-malformed', error.message);
    throw error;
  }
}

const keyOf = (registration: { jid: string; node: string }): string => `${REGISTRATION_PREFIX}${registration.jid} ${registration.node}`;

export async function addRegistration(store: UserDataStore, domain: string, username: string, registration: PushRegistration, max: number): Promise<void> {
  const keys = await store.keys(domain, username, REGISTRATION_PREFIX);
  if (!keys.includes(keyOf(registration)) && keys.length >= max) throw new StanzaError('resource-constraint', `at most ${max} push registrations per account`);
  await store.set(domain, username, keyOf(registration), JSON.stringify(registration));
}

export async function removeRegistrations(store: UserDataStore, domain: string, username: string, jid: string, node: string | undefined): Promise<void> {
  for (const registration of await registrationsOf(store, domain, username)) {
    if (registration.jid === jid && (node === undefined || registration.node === node)) await store.delete(domain, username, keyOf(registration));
  }
}

export async function registrationsOf(store: UserDataStore, domain: string, username: string): Promise<PushRegistration[]> {
  const registrations: PushRegistration[] = [];
  for (const key of await store.keys(domain, username, REGISTRATION_PREFIX)) {
    const value = await store.get(domain, username, key);
    if (value !== undefined) registrations.push(JSON.parse(value) as PushRegistration);
  }
  return registrations;
}
