/**
 * Presence subscriptions (RFC 6121 section 3): the subscription stanzas a user sends (outbound)
 * and those that arrive for a user (inbound), applied to the roster through the state tables
 * of Appendix A (subscription-states.ts) and the pre-approvals of section 3.4.
 *
 * Inbound stanzas may come from local users or from other servers: only `from` is trusted.
 */
import type { Jid } from '../../jid/jid.ts';
import type { Router } from '../../router/router.ts';
import type { AccountStore, RosterItem } from '../../storage/types.ts';
import type { Element } from '../../xml/element.ts';
import { RosterService, newRosterItem } from '../roster/roster-service.ts';
import { contactSeesUser, transition, type SubscriptionState, type SubscriptionStanzaType, type Transition } from './subscription-states.ts';
import { presence, readdressed } from './stanzas.ts';

export class Subscriptions {
  #router: Router;
  #rosters: RosterService;
  #accounts: AccountStore;

  constructor(router: Router, rosters: RosterService, accounts: AccountStore) {
    this.#router = router;
    this.#rosters = rosters;
    this.#accounts = accounts;
  }

  /**
   * A subscription stanza from one of the user's clients (RFC 6121 sections 3.1.2, 3.2.2,
   * 3.3.2, 3.4.2). It goes out stamped with the user's bare JID, to the contact's bare JID.
   */
  async outbound(user: Jid, contact: Jid, type: SubscriptionStanzaType, stanza: Element): Promise<void> {
    user = user.bare();
    contact = contact.bare();
    let step!: Transition;
    const { before } = await this.#rosters.update(user, contact, async (item) => {
      const pendingIn = await this.#rosters.pending.has(user, contact);
      step = transition('outbound', type, stateOf(item, pendingIn));
      // RFC 6121 section 3.4.2: approving before being asked records a pre-approval.
      if (step.preApprove) return { ...(item ?? newRosterItem(contact)), approved: true, askIn: pendingIn };
      if (step.forward && (type === 'subscribed' || type === 'unsubscribed')) await this.#rosters.pending.remove(user, contact);
      const next = withState(item, contact, step.state);
      // RFC 6121 section 3.4: "unsubscribed" also cancels a pre-approval; once subscribed it has no use.
      if (next && (type === 'unsubscribed' || contactSeesUser(next.subscription))) next.approved = false;
      return next;
    });
    if (!step.forward) return;
    await this.#route(readdressed(stanza, { from: user.toString(), to: contact.toString() }));
    if (type === 'subscribed') {
      // RFC 6121 section 3.1.5: the new subscriber gets the user's current presence.
      await this.sendCurrentPresence(user, contact);
    } else if (type === 'unsubscribed' && before && contactSeesUser(before.subscription)) {
      // RFC 6121 section 3.2.2: a contact whose subscription is cancelled sees the user go offline.
      await this.#sendUnavailable(user, contact);
    }
  }

  /**
   * A subscription stanza for a local user (RFC 6121 sections 3.1.3, 3.1.6, 3.2.3, 3.3.3):
   * updates the roster, and delivers the stanza to the user's available resources when the
   * tables say so. Requests wait durably until answered.
   */
  async inbound(user: Jid, contact: Jid, type: SubscriptionStanzaType, stanza: Element): Promise<void> {
    user = user.bare();
    contact = contact.bare();
    if ((await this.#accounts.get(user.domain, user.local!)) === undefined) {
      // RFC 6121 section 8.5.1: a request to no account is declined; other types are ignored.
      if (type === 'subscribe') await this.#route(presence('unsubscribed', user, contact));
      return;
    }
    const stamped = readdressed(stanza, { from: contact.toString(), to: user.toString() });
    let step!: Transition;
    let preApproved = false;
    const { before } = await this.#rosters.update(user, contact, async (item) => {
      const pendingIn = await this.#rosters.pending.has(user, contact);
      step = transition('inbound', type, stateOf(item, pendingIn));
      if (type === 'subscribe' && step.forward && item?.approved) {
        // RFC 6121 section 3.4: a pre-approved request is approved at once.
        preApproved = true;
        const approved = withState(item, contact, transition('outbound', 'subscribed', step.state).state)!;
        return { ...approved, approved: false };
      }
      if (type === 'subscribe' && step.forward) await this.#rosters.pending.add(user, contact, stamped);
      // RFC 6121 section 3.3.3: an "unsubscribe" also withdraws a request still waiting.
      if (type === 'unsubscribe' && step.forward) await this.#rosters.pending.remove(user, contact);
      return withState(item, contact, step.state);
    });
    if (preApproved || step.autoReply) {
      await this.#route(presence('subscribed', user, contact));
      await this.sendCurrentPresence(user, contact);
      return;
    }
    if (step.forward) {
      for (const session of this.#router.sessions.availableResourcesOf(user)) session.send(stamped);
    }
    if (type === 'unsubscribe' && before && contactSeesUser(before.subscription) && step.forward) {
      // RFC 6121 section 3.3.3: the former subscriber sees the user go offline.
      await this.#sendUnavailable(user, contact);
    }
  }

  /**
   * A subscription request to `user` that carries one of the user's own invitations
   * (XEP-0379 section 3.5, taken by the caller): the user approves it as if in advance (RFC 6121
   * section 3.4), the request then goes through as approved, and the user asks back, so that
   * both see each other.
   */
  async invitedRequest(user: Jid, contact: Jid, stanza: Element): Promise<void> {
    user = user.bare();
    contact = contact.bare();
    await this.outbound(user, contact, 'subscribed', presence('subscribed', user, contact));
    await this.inbound(user, contact, 'subscribe', stanza);
    await this.outbound(user, contact, 'subscribe', presence('subscribe', user, contact));
  }

  /**
   * Two local accounts become each other's contacts, subscribed both ways (an account registered
   * with another's invitation, XEP-0401 section 4): each approves the other in advance, then
   * each asks, and each request is approved at once.
   */
  async mutual(a: Jid, b: Jid): Promise<void> {
    await this.outbound(a, b, 'subscribed', presence('subscribed', a, b));
    await this.outbound(b, a, 'subscribed', presence('subscribed', b, a));
    await this.outbound(b, a, 'subscribe', presence('subscribe', b, a));
    await this.outbound(a, b, 'subscribe', presence('subscribe', a, b));
  }

  /** The current presence of each of the user's available resources, to one entity. */
  async sendCurrentPresence(user: Jid, to: Jid): Promise<void> {
    for (const session of this.#router.sessions.availableResourcesOf(user)) {
      await this.#route(readdressed(session.im.presence!, { to: to.toString() }));
    }
  }

  async #sendUnavailable(user: Jid, to: Jid): Promise<void> {
    for (const session of this.#router.sessions.availableResourcesOf(user)) {
      await this.#route(presence('unavailable', session.jid, to));
    }
  }

  #route(stanza: Element): Promise<void> {
    return this.#router.route(stanza, { kind: 'local' });
  }
}

/** The Appendix A state of a pair from its roster item and pending request. */
function stateOf(item: RosterItem | undefined, pendingIn: boolean): SubscriptionState {
  return { subscription: item?.subscription ?? 'none', pendingOut: item?.askOut ?? false, pendingIn };
}

/**
 * The item holding a state. A request waiting from a contact not in the roster creates no
 * item: it stays out of the roster until the user answers (RFC 6121 section 3.1.3).
 */
function withState(item: RosterItem | undefined, contact: Jid, state: SubscriptionState): RosterItem | undefined {
  if (item === undefined && state.subscription === 'none' && !state.pendingOut) return undefined;
  return { ...(item ?? newRosterItem(contact)), subscription: state.subscription, askOut: state.pendingOut, askIn: state.pendingIn };
}
