/**
 * Presence a client broadcasts (RFC 6121 section 4): initial and later available presence goes
 * to the contacts subscribed to the user and to the user's own available resources; initial
 * presence also probes the contacts the user is subscribed to; unavailable presence (sent, or
 * implied by the stream ending) goes to the same set plus the entities that got directed
 * presence from the resource.
 */
import type { Host } from '../../router/host.ts';
import type { Router } from '../../router/router.ts';
import type { BoundSession } from '../../router/sessions.ts';
import { Element, NS_CLIENT } from '../../xml/element.ts';
import { StanzaCopies } from '../../xml/stanza-copies.ts';
import type { RosterService } from '../roster/roster-service.ts';
import { userSeesContact } from './subscription-states.ts';
import { parsePriority, presence, readdressed } from './stanzas.ts';

export class PresenceBroadcast {
  #host: Host;
  #router: Router;
  #rosters: RosterService;

  constructor(host: Host, router: Router, rosters: RosterService) {
    this.#host = host;
    this.#router = router;
    this.#rosters = rosters;
  }

  /** Available presence without `to` (RFC 6121 sections 4.2.2 and 4.4.2). */
  async available(session: BoundSession, stanza: Element): Promise<void> {
    const priority = parsePriority(stanza);
    const initial = !session.im.available;
    const attrs: Record<string, string> = { ...stanza.attrs, from: session.jid.toString() };
    delete attrs.to;
    const current = new Element(stanza.name, stanza.xmlns, attrs, stanza.children);
    // Kept for the session's lifetime as its text (src/router/sessions.ts), so no copy of the elements is needed.
    session.im.presence = current;
    session.im.priority = priority;
    const user = session.jid.bare();
    // One serialization for every contact: each gets a copy with its own `to` (src/xml/stanza-copies.ts),
    // which its sessions write as it is. A contact of this server whose features need not wait
    // gets it at once; the copies the router has to take go out together. Each contact gets one.
    const copies = new StanzaCopies(current);
    const routed: Promise<void>[] = [];
    for (const contact of await this.#rosters.presenceSubscribers(user)) {
      const copy = copies.to(contact);
      if (!this.#router.deliverNow(copy, session.jid)) routed.push(this.#route(copy));
    }
    await Promise.all(routed);
    // RFC 6121 section 4.2.2 and 4.4.2: the user's available resources, the sender included.
    for (const resource of this.#router.sessions.availableResourcesOf(user)) {
      resource.send(readdressed(current, { to: resource.jid.toString() }));
    }
    if (!initial) return;
    // RFC 6121 section 4.2.2: the new resource learns about the user's other resources ...
    for (const resource of this.#router.sessions.availableResourcesOf(user)) {
      if (resource !== session) session.send(readdressed(resource.im.presence!, { to: session.jid.toString() }));
    }
    // ... and RFC 6121 section 4.3.1: the server probes the contacts the user is subscribed to.
    for (const item of (await this.#rosters.roster(user)).items) {
      if (userSeesContact(item.subscription)) await this.#route(presence('probe', user, item.jid));
    }
    await this.#host.events.emit('session/available', { session, host: this.#host });
  }

  /**
   * Unavailable presence without `to` (RFC 6121 section 4.5.2), or the one the server sends
   * for a resource whose stream ended (section 4.5.3, `stanza` undefined).
   */
  async unavailable(session: BoundSession, stanza: Element | undefined): Promise<void> {
    const wasAvailable = session.im.available;
    session.im.presence = undefined;
    session.im.priority = 0;
    const attrs: Record<string, string> = { ...stanza?.attrs, type: 'unavailable', from: session.jid.toString() };
    delete attrs.to;
    const unavailable = new Element('presence', stanza?.xmlns ?? NS_CLIENT, attrs, stanza?.children ?? []);
    const user = session.jid.bare();
    const recipients = new Set<string>();
    if (wasAvailable) {
      for (const contact of await this.#rosters.presenceSubscribers(user)) recipients.add(contact);
    }
    // RFC 6121 section 4.6.3: entities that got directed presence learn the resource left.
    for (const recipient of session.im.directedPresence) recipients.add(recipient);
    session.im.directedPresence.clear();
    for (const recipient of recipients) await this.#route(readdressed(unavailable, { to: recipient }));
    if (!wasAvailable) return;
    for (const resource of this.#router.sessions.availableResourcesOf(user)) {
      resource.send(readdressed(unavailable, { to: resource.jid.toString() }));
    }
    if (stanza) session.send(readdressed(unavailable, { to: session.jid.toString() }));
  }

  /** RFC 6121 section 4.6.2: directed presence is tracked so the entity gets unavailable later. */
  trackDirected(session: BoundSession, stanza: Element, to: string): void {
    if (stanza.attrs.type === 'unavailable') session.im.directedPresence.delete(to);
    else session.im.directedPresence.add(to);
  }

  #route(stanza: Element): Promise<void> {
    return this.#router.route(stanza, { kind: 'local' });
  }
}
