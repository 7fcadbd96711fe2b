/** The <stream:features/> a client is offered at each stage (RFC 6120 sections 4.3.2, 5.3.1, 6.3.1, 7.2). */
import { Element, NS_STREAMS } from '../xml/element.ts';
import { NS_BIND, NS_SASL, NS_SESSION, NS_TLS } from '../xml/namespaces.ts';
import { NS_SM } from '../net/stream-management.ts';
import { NS_CSI } from './client-state.ts';

export interface PreAuthFeatureInput {
  /** features modules offer before authentication (only once TLS is done or not required) */
  extra: readonly Element[];
  tlsActive: boolean;
  tlsAvailable: boolean;
  tlsRequired: boolean;
  mechanisms: readonly string[];
  /** the channel-binding types the -PLUS mechanisms may use on this stream (XEP-0440) */
  channelBindings: readonly string[];
  /** SASL2's <authentication/> (XEP-0388 section 2.1), offered beside RFC 6120 SASL */
  sasl2?: Element;
}

/** XEP-0440 section 3. */
export const NS_SASL_CHANNEL_BINDING = 'urn:xmpp:sasl-cb:0';

export function preAuthFeatures(input: PreAuthFeatureInput): Element {
  const features = new Element('features', NS_STREAMS);
  if (!input.tlsActive && input.tlsAvailable) {
    const starttls = features.c('starttls', {}, NS_TLS);
    if (input.tlsRequired) starttls.c('required');
    // RFC 6120 section 5.3.1: when TLS is mandatory-to-negotiate it is the only feature offered.
    if (input.tlsRequired) return features;
  }
  const mechanisms = features.c('mechanisms', {}, NS_SASL);
  for (const name of input.mechanisms) mechanisms.c('mechanism').t(name);
  if (input.channelBindings.length > 0) {
    const bindings = features.c('sasl-channel-binding', {}, NS_SASL_CHANNEL_BINDING);
    for (const type of input.channelBindings) bindings.c('channel-binding', { type });
  }
  if (input.sasl2) features.append(input.sasl2);
  features.append(...input.extra);
  return features;
}

export interface PostAuthFeatureInput {
  /** a SASL2 login already bound or resumed a session: no resource binding is offered */
  bound: boolean;
  streamManagement: boolean;
  clientStateIndication: boolean;
}

export function postAuthFeatures(extra: readonly Element[], input: PostAuthFeatureInput): Element {
  const features = new Element('features', NS_STREAMS);
  if (!input.bound) {
    features.c('bind', {}, NS_BIND);
    features.c('session', {}, NS_SESSION).c('optional');
  }
  // XEP-0198 section 2: stream management is offered after authentication.
  if (input.streamManagement) features.c('sm', {}, NS_SM);
  // XEP-0352 section 4.1: so is client state indication.
  if (input.clientStateIndication) features.c('csi', {}, NS_CSI);
  features.append(...extra);
  return features;
}
