/**
 * A hosted domain: its own IQ handlers and stanza events, so features are enabled per host
 * (DESIGN: hosts are contexts).
 */
import { EventBus } from '../events/bus.ts';
import type { HostConfig } from '../config/types.ts';
import type { Jid } from '../jid/jid.ts';
import type { Element } from '../xml/element.ts';
import type { BoundSession } from './sessions.ts';

/**
 * Who an IQ is for (RFC 6120 section 10.3 and 10.5):
 * - `host`: the server's own domain;
 * - `account`: no `to`, or the sender's own bare JID: the server answers on behalf of the account;
 * - `bare`: another account's bare JID (the server answers for that account).
 */
export type IqScope = 'host' | 'account' | 'bare';

export interface IqRequest {
  stanza: Element;
  /** the first child element: the request payload */
  payload: Element;
  from: Jid;
  /** the addressee (for `account`, the sender's bare JID) */
  to: Jid;
  host: Host;
}

/** Returns the result payload, nothing for an empty result, or throws a StanzaError. */
export type IqHandler = (request: IqRequest) => Element | undefined | Promise<Element | undefined>;

/** An IQ a client sends before it has authenticated (e.g. in-band registration, XEP-0077). */
export interface PreAuthIqRequest {
  stanza: Element;
  payload: Element;
  host: Host;
  /** the client's IP address */
  address: string;
  /** whether the stream is encrypted */
  secure: boolean;
  /** the client's connection, the same object for each request on it (a key for what a feature remembers of it) */
  stream: object;
}

export type PreAuthIqHandler = (request: PreAuthIqRequest) => Element | undefined | Promise<Element | undefined>;

/** A service discovery identity (XEP-0030 section 3.1). */
export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
}

/** An item of a disco#items answer (XEP-0030 section 4.1). */
export interface DiscoItem {
  jid: string;
  node?: string;
  name?: string;
}

/**
 * A node of the host's service discovery (XEP-0030 section 4.2), such as the ad-hoc commands
 * list; each answer may depend on who asks, and throws a StanzaError to refuse.
 */
export interface DiscoNode {
  info(from: Jid): { identities: DiscoIdentity[]; features: string[] };
  items(from: Jid): DiscoItem[];
}

/** A routed stanza as seen by a host's event handlers. */
export interface StanzaEvent {
  stanza: Element;
  from: Jid;
  /** the addressee; for a stanza without `to`, the sender's bare JID (RFC 6120 section 10.3) */
  to: Jid;
  host: Host;
}

/** A stanza a local client sent, seen on the sender's host before it is routed. */
export interface OutboundStanzaEvent extends StanzaEvent {
  session: BoundSession;
}

/** A message the delivery rules handed to local resources (RFC 6121 section 8.5): which ones took it. */
export interface DeliveredEvent extends StanzaEvent {
  recipients: readonly BoundSession[];
}

export interface SessionEvent {
  session: BoundSession;
  host: Host;
}

type StanzaKind = 'message' | 'presence' | 'iq';
type AddressForm = 'bare' | 'full' | 'host';

/**
 * Events a host fires (names after Prosody's). A handler that returns true takes the stanza
 * and stops the chain.
 * - `message/bare`, `presence/full`, `iq/bare`, ...: a stanza for an address of this host,
 *   by the form of its `to` (an IQ fires before its handler is looked up);
 * - `pre-message`, `pre-presence`, `pre-iq`: a stanza a client of this host sent, before routing;
 * - `message/offline`: a message no resource could take (RFC 6121 section 8.5.2.2);
 * - `message/delivered`: a message went to these resources of its addressee (message carbons,
 *   XEP-0280, copy it to the others);
 * - `session/bound`, `session/available`, `session/closed`: a client resource's lifecycle;
 * - `session/backlog`: a message for a live resource went to offline storage (its output
 *   budget was spent, or a backlog is being delivered): the offline feature delivers it.
 */
/**
 * The stanza events' names as literals, which the engine keeps as one shared string each: an
 * event name built per stanza (a template) is a new string to hash and compare at every lookup.
 */
export const STANZA_EVENTS = {
  message: { pre: 'pre-message', host: 'message/host', bare: 'message/bare', full: 'message/full' },
  presence: { pre: 'pre-presence', host: 'presence/host', bare: 'presence/bare', full: 'presence/full' },
  iq: { pre: 'pre-iq', host: 'iq/host', bare: 'iq/bare', full: 'iq/full' },
} as const satisfies { [kind in StanzaKind]: { pre: `pre-${kind}` } & { [form in AddressForm]: `${kind}/${form}` } };

export type HostEvents = {
  [name in `${StanzaKind}/${AddressForm}`]: StanzaEvent;
} & {
  [name in `pre-${StanzaKind}`]: OutboundStanzaEvent;
} & {
  'message/offline': StanzaEvent;
  'message/delivered': DeliveredEvent;
  'session/bound': SessionEvent;
  'session/available': SessionEvent;
  'session/closed': SessionEvent;
  'session/backlog': SessionEvent;
};

/**
 * What a service host serves, and the hosted domain it belongs to: group chat,
 * publish-subscribe or file upload (src/services), or an external component (src/component), whose parent is the hosted domain it is a subdomain
 * of, else its own domain.
 */
export interface ServiceInfo {
  kind: 'muc' | 'pubsub' | 'upload' | 'component';
  parent: string;
}

export class Host {
  readonly domain: string;
  config: HostConfig;
  /**
   * Set on a service host: a domain that serves a service (group chat, ...) instead of
   * accounts. Clients do not log in to it; its settings are its parent host's.
   */
  readonly service: ServiceInfo | undefined;
  readonly events = new EventBus<HostEvents>();
  /** features the server advertises for this host in disco#info (XEP-0030); modules add theirs */
  readonly discoFeatures = new Set<string>();
  /** features the server advertises on behalf of each account, in disco#info to its bare JID (XEP-0030 section 3.1); modules add theirs */
  readonly accountDiscoFeatures = new Set<string>();
  readonly discoIdentities: DiscoIdentity[] = [{ category: 'server', type: 'im', name: 'Trellis' }];
  /** nodes of the host's disco#info and disco#items by name; modules add theirs */
  readonly discoNodes = new Map<string, DiscoNode>();
  /**
   * On a service host: whether its parent lists it in disco#items now (`Router.servicesOf`).
   * Group chat always is; an external component only while it is connected.
   */
  listedInParent = true;
  /** extra <stream:features/> children modules offer to clients, before and after authentication */
  readonly streamFeatures: { preAuth: Element[]; postAuth: Element[] } = { preAuth: [], postAuth: [] };
  #iqHandlers = new Map<string, IqHandler>();
  #preAuthIqHandlers = new Map<string, PreAuthIqHandler>();

  /** A hosted domain, or with `service` a service host at its own domain under the parent's settings. */
  constructor(config: HostConfig, service?: ServiceInfo & { domain: string }) {
    this.domain = service?.domain ?? config.domain;
    this.config = config;
    this.service = service && { kind: service.kind, parent: service.parent };
  }

  /** Registers the handler for IQs of a type whose payload is `{xmlns}name`. */
  handleIq(scope: IqScope, type: 'get' | 'set', xmlns: string, name: string, handler: IqHandler): void {
    this.#iqHandlers.set(iqKey(scope, type, xmlns, name), handler);
  }

  /** Registers the handler for IQs (get and set) with payload `{xmlns}name` sent before authentication. */
  handlePreAuthIq(xmlns: string, name: string, handler: PreAuthIqHandler): void {
    this.#preAuthIqHandlers.set(`${xmlns} ${name}`, handler);
  }

  preAuthIqHandler(xmlns: string, name: string): PreAuthIqHandler | undefined {
    return this.#preAuthIqHandlers.get(`${xmlns} ${name}`);
  }

  iqHandler(scope: IqScope, type: string, xmlns: string, name: string): IqHandler | undefined {
    return this.#iqHandlers.get(iqKey(scope, type, xmlns, name));
  }

  /** Namespaces with a handler in a scope, for service discovery. */
  iqNamespaces(scope: IqScope): string[] {
    const found = new Set<string>();
    for (const key of this.#iqHandlers.keys()) {
      const [keyScope, , xmlns] = key.split(' ');
      if (keyScope === scope && xmlns) found.add(xmlns);
    }
    return [...found].sort();
  }
}

function iqKey(scope: IqScope, type: string, xmlns: string, name: string): string {
  return `${scope} ${type} ${xmlns} ${name}`;
}
