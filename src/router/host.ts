/**
 * A hosted domain: its own IQ handlers and stanza events, so features are enabled per host
 * (DESIGN: hosts are contexts).
 */
import { EventBus } from '../events/bus.ts';
import type { HostConfig } from '../config/types.ts';
import type { Jid } from '../jid/jid.ts';
import type { Element } from '../xml/element.ts';

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

/** A routed stanza as seen by a host's event handlers. */
export interface StanzaEvent {
  stanza: Element;
  from: Jid;
  to: Jid;
  host: Host;
}

/**
 * Stanza events a host fires, named after Prosody's: `message/bare`, `message/full`,
 * `message/host`, `presence/bare`, `presence/full`, `presence/host`.
 */
export type HostEvents = {
  [name in `${'message' | 'presence'}/${'bare' | 'full' | 'host'}`]: StanzaEvent;
};

export class Host {
  readonly domain: string;
  config: HostConfig;
  readonly events = new EventBus<HostEvents>();
  #iqHandlers = new Map<string, IqHandler>();

  constructor(config: HostConfig) {
    this.domain = config.domain;
    this.config = config;
  }

  /** Registers the handler for IQs of a type whose payload is `{xmlns}name`. */
  handleIq(scope: IqScope, type: 'get' | 'set', xmlns: string, name: string, handler: IqHandler): void {
    this.#iqHandlers.set(iqKey(scope, type, xmlns, name), handler);
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
