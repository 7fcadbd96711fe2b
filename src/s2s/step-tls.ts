/**
 * STARTTLS between servers (RFC 6120 section 5), both roles. TLS comes first (XEP-0170
 * section 4); after the handshake both sides forget what they learned before (section 5.4.3.3)
 * and the stream restarts.
 */
import { StreamError } from '../net/stream-errors.ts';
import { Element } from '../xml/element.ts';
import { NS_TLS } from '../xml/namespaces.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { Step, StepHost, StepResult } from './negotiation.ts';
import { linkRequiresTls } from './link-profile.ts';

/** Whether policy requires TLS with the peer (its remote domain's level, or the default before the domain is known), or its link does. */
export function tlsRequired(host: StepHost): boolean {
  return host.context.policy.current.requirement(host.remoteDomain).demands.tls || linkRequiresTls(host.context, host.remoteDomain);
}

export function tlsStep(host: StepHost): Step {
  const requiresTls = (): boolean => tlsRequired(host);
  return {
    name: 'tls',
    claims: (element) => element.xmlns === NS_TLS,

    // RFC 6120 section 5.3.1: where TLS is required, the first features offer it alone.
    offer(features) {
      if (host.secure) return false;
      const starttls = features.c('starttls', {}, NS_TLS);
      if (!requiresTls()) return false;
      starttls.c('required');
      return true;
    },

    begin(features) {
      if (host.secure) return 'done';
      // RFC 7590 section 3.1: use TLS whenever offered.
      if (features?.getChild('starttls', NS_TLS)) {
        host.write(new Element('starttls', NS_TLS));
        return 'running';
      }
      if (requiresTls()) host.fail(new StanzaError('remote-server-timeout', `${host.remoteDomain} offers no TLS and policy requires it`), 'policy-violation');
      return 'done';
    },

    handle(element): StepResult | Promise<StepResult> {
      if (host.role === 'receiver') {
        if (element.name !== 'starttls') throw new StreamError('not-authorized', `unexpected <${element.name} xmlns='${NS_TLS}'/>`);
        if (host.secure) throw new StreamError('not-authorized', 'TLS is already in place');
        host.write(new Element('proceed', NS_TLS));
      } else if (element.name !== 'proceed') {
        // RFC 6120 section 5.4.2.2: <failure/>, and the receiving server closes the stream.
        host.fail(new StanzaError('remote-server-timeout', 'the peer refused STARTTLS'));
        return 'done';
      }
      return host.startTls().then((secure) => (secure ? 'restart' : 'done'));
    },
  };
}
