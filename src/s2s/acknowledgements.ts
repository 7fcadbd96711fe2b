/**
 * Stream management (XEP-0198) on a server connection, both ways: we ask the peer to count
 * what we send where it offers the feature (and learn from its acknowledgements what it
 * processed), and we count what it sends us when it asks. No resumption between servers.
 */
import { NS_SM, ackElement, enabledElement, failedElement, parseH } from '../net/stream-management.ts';
import { StreamError } from '../net/stream-errors.ts';
import type { XmlStream } from '../net/xml-stream.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { DeliveryTracker } from './delivery-tracker.ts';
import type { InboundStanzas } from './inbound.ts';

interface AckHost {
  readonly stream: XmlStream;
  readonly logger: Logger;
  /** how log lines name the connection ("s2s outgoing") */
  readonly label: string;
  readonly remoteDomain: string | undefined;
  fail(error: StanzaError, condition: 'undefined-condition'): void;
}

export function acknowledgements(host: AckHost) {
  /** the peer offered the feature; 'sent' once we asked to enable it */
  let state: 'unknown' | 'offered' | 'sent' = 'unknown';
  return {
    features(features: Element): void {
      if (state === 'unknown' && features.getChild('sm', NS_SM)) state = 'offered';
    },

    /** A pair is authorized to send: section 3, acknowledgements once authenticated, where offered. */
    authenticated(tracker: DeliveryTracker): void {
      if (state !== 'offered') return;
      state = 'sent';
      host.stream.sendRaw(`<enable xmlns='${NS_SM}'/>`);
      tracker.startAcks();
    },

    handle(element: Element, inbound: InboundStanzas, tracker: DeliveryTracker): void {
      switch (element.name) {
        case 'enable':
          // Section 3: only once, and only after authentication; counting starts with the stanzas after it.
          return inbound.after(() => void host.stream.sendRaw(inbound.enableCounting() ? enabledElement(undefined, 0) : failedElement('unexpected-request')));
        case 'r':
          // Answered in order, after the stanzas before it were processed: an acknowledged stanza was delivered or stored.
          return inbound.after(() => void host.stream.sendRaw(ackElement(inbound.handled ?? 0)));
        case 'a': {
          const h = parseH(element.attrs.h);
          // Section 4: an acknowledgement of more than we sent ends the stream.
          if (h === undefined || !tracker.acknowledge(h)) host.fail(new StanzaError('remote-server-timeout', `${host.remoteDomain} acknowledged stanzas it was never sent`), 'undefined-condition');
          return;
        }
        case 'enabled':
          return host.logger.debug(`${host.label} stream management enabled`);
        case 'failed':
          host.logger.info(`${host.label} stream management refused by the peer`);
          return tracker.stopAcks();
        default:
          throw new StreamError('unsupported-stanza-type', `<${element.name} xmlns='${NS_SM}'/> is not part of stream management`);
      }
    },
  };
}
