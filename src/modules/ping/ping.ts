/**
 * XEP-0199: the server answers a ping addressed to it (section 4.2) with an empty result, and
 * so does a ping without `to` or to the sender's own bare JID, which RFC 6120 section 10.3.3
 * makes a request the server handles on behalf of the account (clients such as Profanity ping
 * that way to keep their connection alive). A ping to another account's bare JID is answered
 * on its behalf (RFC 6121 section 8.5.2) only for a contact the account shares its presence
 * with; anyone else gets service-unavailable, as a missing account does, so a stranger learns
 * nothing about who exists or is online.
 */
import { NS_PING } from '../../xml/namespaces.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule } from '../context.ts';
import { sharesPresenceWith } from '../presence/shares-presence.ts';

export const pingModule: FeatureModule = ({ host, storage }) => {
  host.handleIq('host', 'get', NS_PING, 'ping', () => undefined);
  host.handleIq('account', 'get', NS_PING, 'ping', () => undefined);
  host.handleIq('bare', 'get', NS_PING, 'ping', async ({ from, to }) => {
    if (!(await sharesPresenceWith(storage, to, from))) throw new StanzaError('service-unavailable');
    return undefined;
  });
};
