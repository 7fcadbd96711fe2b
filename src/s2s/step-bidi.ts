/**
 * Bidirectional server connections (XEP-0288), both roles. The receiver offers
 * `<bidi xmlns='urn:xmpp:features:bidi'/>`; the initiator answers `<bidi xmlns='urn:xmpp:bidi'/>`
 * after TLS and before SASL or dialback (section 2.2), and no reply follows. Our rule: not
 * before TLS where policy requires TLS (section 2.2 puts TLS first), and not once the peer has
 * authenticated. What bidi changes is in server-connection.ts: each pair authorized one way is
 * also bound the other way on the same connection; and between two Trellis servers the
 * receiver may ask for pairs too (reverse-pairs.ts), which the initiator's `<bidi/>` says it takes.
 */
import { announcesRelayTrace, relayTraceFeature } from '../router/relay-trace.ts';
import { Element } from '../xml/element.ts';
import { NS_BIDI, NS_BIDI_FEATURE } from '../xml/namespaces.ts';
import type { Step, StepHost, StepResult } from './negotiation.ts';
import { NS_TRELLIS_S2S } from './pair-authorization.ts';
import { tlsRequired } from './step-tls.ts';

export function bidiStep(host: StepHost): Step {
  /** bidi may be turned on now: configured, not on yet, no pair authorized, and TLS first where required */
  const allowed = (): boolean => host.context.config.bidi && !host.bidi && !host.authenticated && (host.secure || !tlsRequired(host));
  return {
    name: 'bidi',
    claims: (element) => element.xmlns === NS_BIDI,

    offer(features) {
      if (allowed()) features.c('bidi', {}, NS_BIDI_FEATURE);
      return false;
    },

    begin(features) {
      if (allowed() && features?.getChild('bidi', NS_BIDI_FEATURE)) {
        // A peer that offered the pairs extension is told we take its pair requests (reverse-pairs.ts).
        const reverse = host.secure && features.getChild('pairs', NS_TRELLIS_S2S) !== undefined;
        // A peer that keeps the relay trace is told we keep it too, for what it sends us on this stream (relay-trace.ts).
        const trace = announcesRelayTrace(features) ? [relayTraceFeature()] : [];
        host.write(new Element('bidi', NS_BIDI, {}, [...trace, ...(reverse ? [new Element('pairs', NS_TRELLIS_S2S)] : [])]));
        host.enableBidi(reverse);
      }
      return 'done';
    },

    handle(element): StepResult {
      if (host.role === 'receiver' && element.name === 'bidi' && allowed()) {
        host.enableBidi(host.secure && element.getChild('pairs', NS_TRELLIS_S2S) !== undefined, announcesRelayTrace(element));
        return 'done';
      }
      // Not an error the stream ends with: bidi stays off and the peer's stanzas keep their one direction.
      host.warnOfPeer(`s2s ${host.role === 'receiver' ? 'incoming' : 'outgoing'} bidi request not accepted`, { element: element.name, secure: host.secure, authenticated: host.authenticated, enabled: host.context.config.bidi });
      return 'done';
    },
  };
}
