/**
 * Presence subscription states and how subscription stanzas change them, as the tables of
 * RFC 6121 Appendix A give them: A.2 for stanzas the user's client sends (outbound), A.3 for
 * stanzas arriving for the user (inbound). Pure: callers load and store the state.
 */
import type { Subscription } from '../../storage/types.ts';

export type SubscriptionStanzaType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';
export type Direction = 'outbound' | 'inbound';

/** The state of one (user, contact) pair (RFC 6121 Appendix A.1). */
export interface SubscriptionState {
  subscription: Subscription;
  /** the user asked for a subscription to the contact and has no answer yet */
  pendingOut: boolean;
  /** the contact asked for a subscription to the user and has no answer yet */
  pendingIn: boolean;
}

/** The nine states of RFC 6121 Appendix A.1, by their names there. */
export type StateName =
  | 'None'
  | 'None + Pending Out'
  | 'None + Pending In'
  | 'None + Pending Out/In'
  | 'To'
  | 'To + Pending In'
  | 'From'
  | 'From + Pending Out'
  | 'Both';

export const STATE_NAMES: readonly StateName[] = [
  'None',
  'None + Pending Out',
  'None + Pending In',
  'None + Pending Out/In',
  'To',
  'To + Pending In',
  'From',
  'From + Pending Out',
  'Both',
];

const STATES: Record<StateName, SubscriptionState> = {
  None: { subscription: 'none', pendingOut: false, pendingIn: false },
  'None + Pending Out': { subscription: 'none', pendingOut: true, pendingIn: false },
  'None + Pending In': { subscription: 'none', pendingOut: false, pendingIn: true },
  'None + Pending Out/In': { subscription: 'none', pendingOut: true, pendingIn: true },
  To: { subscription: 'to', pendingOut: false, pendingIn: false },
  'To + Pending In': { subscription: 'to', pendingOut: false, pendingIn: true },
  From: { subscription: 'from', pendingOut: false, pendingIn: false },
  'From + Pending Out': { subscription: 'from', pendingOut: true, pendingIn: false },
  Both: { subscription: 'both', pendingOut: false, pendingIn: false },
};

/**
 * The Appendix A name of a state. A pending request in a direction that is already subscribed
 * means nothing and is dropped ("To + Pending Out" is "To").
 */
export function stateName(state: SubscriptionState): StateName {
  const { subscription } = state;
  const pendingOut = state.pendingOut && (subscription === 'none' || subscription === 'from');
  const pendingIn = state.pendingIn && (subscription === 'none' || subscription === 'to');
  if (subscription === 'none') return pendingOut ? (pendingIn ? 'None + Pending Out/In' : 'None + Pending Out') : pendingIn ? 'None + Pending In' : 'None';
  if (subscription === 'to') return pendingIn ? 'To + Pending In' : 'To';
  if (subscription === 'from') return pendingOut ? 'From + Pending Out' : 'From';
  return 'Both';
}

export function stateOf(name: StateName): SubscriptionState {
  return { ...STATES[name] };
}

/**
 * One row of a table: whether the stanza goes on (routed to the contact for outbound, delivered
 * to the user for inbound) and the new state (absent: no state change). `preApprove` marks the
 * outbound "subscribed" rows where the server records a pre-approval instead (section 3.4);
 * `autoReply` the inbound "subscribe" rows the server answers itself with "subscribed"
 * because the contact is already subscribed (section 3.1.3).
 */
export interface Row {
  forward: boolean;
  next?: StateName;
  preApprove?: true;
  autoReply?: true;
}

type Table = Record<StateName, Row>;

const same = (forward: boolean): Row => ({ forward });
const to = (next: StateName): Row => ({ forward: true, next });

/** RFC 6121 Appendix A.2: the user's server processing what the user's client sends. */
const OUTBOUND: Record<SubscriptionStanzaType, Table> = {
  // A.2.1: the request always goes out (the contact's server may have lost state).
  subscribe: {
    None: to('None + Pending Out'),
    'None + Pending Out': same(true),
    'None + Pending In': to('None + Pending Out/In'),
    'None + Pending Out/In': same(true),
    To: same(true),
    'To + Pending In': same(true),
    From: to('From + Pending Out'),
    'From + Pending Out': same(true),
    Both: same(true),
  },
  // A.2.2
  unsubscribe: {
    None: same(true),
    'None + Pending Out': to('None'),
    'None + Pending In': same(true),
    'None + Pending Out/In': to('None + Pending In'),
    To: to('None'),
    'To + Pending In': to('None + Pending In'),
    From: same(true),
    'From + Pending Out': to('From'),
    Both: to('From'),
  },
  // A.2.3, with pre-approval (section 3.4) where no request is pending.
  subscribed: {
    None: { forward: false, preApprove: true },
    'None + Pending Out': { forward: false, preApprove: true },
    'None + Pending In': to('From'),
    'None + Pending Out/In': to('From + Pending Out'),
    To: { forward: false, preApprove: true },
    'To + Pending In': to('Both'),
    From: same(false),
    'From + Pending Out': same(false),
    Both: same(false),
  },
  // A.2.4
  unsubscribed: {
    None: same(false),
    'None + Pending Out': same(false),
    'None + Pending In': to('None'),
    'None + Pending Out/In': to('None + Pending Out'),
    To: same(false),
    'To + Pending In': to('To'),
    From: to('None'),
    'From + Pending Out': to('None + Pending Out'),
    Both: to('To'),
  },
};

/** RFC 6121 Appendix A.3: the user's server processing what arrives for the user. */
const INBOUND: Record<SubscriptionStanzaType, Table> = {
  // A.3.1: a contact already subscribed gets "subscribed" back from the server.
  subscribe: {
    None: to('None + Pending In'),
    'None + Pending Out': to('None + Pending Out/In'),
    'None + Pending In': same(false),
    'None + Pending Out/In': same(false),
    To: to('To + Pending In'),
    'To + Pending In': same(false),
    From: { forward: false, autoReply: true },
    'From + Pending Out': { forward: false, autoReply: true },
    Both: { forward: false, autoReply: true },
  },
  // A.3.2
  unsubscribe: {
    None: same(false),
    'None + Pending Out': same(false),
    'None + Pending In': to('None'),
    'None + Pending Out/In': to('None + Pending Out'),
    To: same(false),
    'To + Pending In': to('To'),
    From: to('None'),
    'From + Pending Out': to('None + Pending Out'),
    Both: to('To'),
  },
  // A.3.3
  subscribed: {
    None: same(false),
    'None + Pending Out': to('To'),
    'None + Pending In': same(false),
    'None + Pending Out/In': to('To + Pending In'),
    To: same(false),
    'To + Pending In': same(false),
    From: same(false),
    'From + Pending Out': to('Both'),
    Both: same(false),
  },
  // A.3.4
  unsubscribed: {
    None: same(false),
    'None + Pending Out': to('None'),
    'None + Pending In': same(false),
    'None + Pending Out/In': to('None + Pending In'),
    To: to('None'),
    'To + Pending In': to('None + Pending In'),
    From: same(false),
    'From + Pending Out': to('From'),
    Both: to('From'),
  },
};

export function tableRow(direction: Direction, type: SubscriptionStanzaType, state: StateName): Row {
  return (direction === 'outbound' ? OUTBOUND : INBOUND)[type][state];
}

export interface Transition {
  forward: boolean;
  state: SubscriptionState;
  preApprove: boolean;
  autoReply: boolean;
}

/** Applies one subscription stanza to a state (RFC 6121 Appendix A). */
export function transition(direction: Direction, type: SubscriptionStanzaType, state: SubscriptionState): Transition {
  const current = stateName(state);
  const row = tableRow(direction, type, current);
  return {
    forward: row.forward,
    state: stateOf(row.next ?? current),
    preApprove: row.preApprove === true,
    autoReply: row.autoReply === true,
  };
}

export function isSubscriptionType(type: string | undefined): type is SubscriptionStanzaType {
  return type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed';
}

/** The contact receives the user's presence (RFC 6121 section 4.4.2). */
export function contactSeesUser(subscription: Subscription): boolean {
  return subscription === 'from' || subscription === 'both';
}

/** The user receives the contact's presence, so probes on initial presence (RFC 6121 section 4.3). */
export function userSeesContact(subscription: Subscription): boolean {
  return subscription === 'to' || subscription === 'both';
}
