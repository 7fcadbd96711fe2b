/**
 * What becomes of a stanza a client session could not take: nothing is dropped that the RFCs
 * say must be delivered, stored or answered.
 */
import { tryParseJid, type Jid } from '../jid/jid.ts';
import type { Router } from '../router/router.ts';
import type { BoundSession } from '../router/sessions.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { NS_CARBONS } from '../xml/namespaces.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { isStorableMessage } from './client-session.ts';

/**
 * A live session could not take the stanza (its output budget is spent, or its messages are
 * queued offline while a backlog is delivered). A normal or chat message goes to offline
 * storage (the `message/offline` feature) and reaches the client once it has read what it has;
 * when storage refuses it, its sender gets the error. An IQ request bounces with
 * resource-constraint (RFC 6120 section 8.3.3.18: the recipient lacks the resources to take
 * it). Presence, headlines, groupchat, results and errors carry nothing that waits, and are
 * dropped (counted by the output budget).
 */
export async function spillToOffline(router: Router, session: BoundSession, stanza: Element, logger: Logger): Promise<void> {
  if (isStorableMessage(stanza)) {
    const host = router.hosts.get(session.jid.domain);
    const from = tryParseJid(stanza.attrs.from ?? '');
    if (!host || !from) return;
    try {
      if (await host.events.emit('message/offline', { stanza, from, to: session.jid.bare(), host })) {
        await host.events.emit('session/backlog', { session, host });
        return;
      }
      router.bounce(stanza, new StanzaError('resource-constraint', 'the recipient is not reading its messages'));
    } catch (error) {
      if (error instanceof StanzaError) router.bounce(stanza, error);
      else logger.error('storing a message for a congested session failed', { jid: session.jid.toString(), error: error instanceof Error ? error.stack : String(error) });
    }
    return;
  }
  if (isRequest(stanza)) router.bounce(stanza, new StanzaError('resource-constraint', 'the recipient is not reading what is sent to it'));
}

/**
 * The session ended before its client had these stanzas. XEP-0198 section 5: they are handled
 * as if sent to an unavailable resource (RFC 6121 section 8.5.3.2): a message goes to another
 * resource of the account or to offline storage (the router's message rules decide, the session
 * being gone from the session table), an IQ request bounces with service-unavailable, presence
 * and carbon copies are dropped.
 */
export async function rerouteUndelivered(router: Router, resource: Jid, stanzas: readonly Element[]): Promise<void> {
  for (const stanza of stanzas) {
    if (stanza.name === 'message') {
      if (isCarbonCopy(stanza, resource)) continue;
      stanza.attrs.to ??= resource.toString();
      await router.route(stanza, { kind: 'local' });
    } else if (isRequest(stanza)) {
      router.bounce(stanza, new StanzaError('service-unavailable', 'the recipient went offline'));
    }
  }
}

/**
 * A copy made by message carbons (XEP-0280 sections 6 and 7) for this resource: the original
 * reached another resource of the account (and the archive, where there is one), so the copy is
 * not rerouted: another resource would get a copy of what it sent or received itself.
 */
function isCarbonCopy(stanza: Element, resource: Jid): boolean {
  if (stanza.attrs.from !== resource.bare().toString()) return false;
  return stanza.getChild('sent', NS_CARBONS) !== undefined || stanza.getChild('received', NS_CARBONS) !== undefined;
}

function isRequest(stanza: Element): boolean {
  return stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set');
}
