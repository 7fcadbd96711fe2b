/**
 * SASL EXTERNAL between servers (XEP-0178 section 3, RFC 6120 section 6), both roles: the
 * certificate presented in TLS proves the initiator's domain, and the stream restarts.
 */
import { StreamError } from '../net/stream-errors.ts';
import { Element } from '../xml/element.ts';
import { NS_SASL } from '../xml/namespaces.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { Step, StepHost, StepResult } from './negotiation.ts';
import { linkAllowsSaslExternal } from './link-profile.ts';

export function saslExternalStep(host: StepHost): Step {
  let succeeded = false;
  return {
    name: 'sasl-external',
    claims: (element) => element.xmlns === NS_SASL,

    // XEP-0178 section 3: offer EXTERNAL only when the certificate proves the claimed domain.
    offer(features) {
      const sender = host.remoteDomain;
      // A host-named stream is authenticated by both hosts' certificates; pairs come one by one.
      if (!succeeded && !host.hostNamed && host.secure && sender && host.certificate(sender).status === 'valid') {
        features.c('mechanisms', {}, NS_SASL).c('mechanism').t('EXTERNAL');
      }
      return false;
    },

    begin(features) {
      if (host.hostNamed) return 'done';
      const remote = host.remoteDomain!;
      // Before authenticating either way: a domain that must be trusted shows a certificate naming it.
      const certificate = host.certificate(remote);
      const required = host.context.policy.current.requirement(remote);
      if (required.demands.trustedCertificate && certificate.status !== 'valid') {
        host.fail(new StanzaError('remote-server-timeout', `${remote}'s certificate is ${certificate.status} (${certificate.reason ?? ''}) and ${required.rule} requires a trusted one`), 'policy-violation');
        return 'done';
      }
      const mechanisms = features?.getChild('mechanisms', NS_SASL)?.getChildren('mechanism') ?? [];
      // A link of protocol s2s that authenticates by dialback only (link-profile.ts).
      if (!linkAllowsSaslExternal(host.context, remote)) return 'done';
      if (!host.secure || !mechanisms.some((mechanism) => mechanism.text().trim() === 'EXTERNAL')) return 'done';
      // XEP-0178 section 3 and RFC 6120 section 6.4.2: an empty response, written "=".
      host.write(new Element('auth', NS_SASL, { mechanism: 'EXTERNAL' }, ['=']));
      return 'running';
    },

    handle(element): StepResult {
      return host.role === 'receiver' ? receive(element) : answer(element);
    },
  };

  function answer(element: Element): StepResult {
    if (element.name === 'success') {
      succeeded = true;
      // RFC 6120 section 6.4.6: the stream restarts; the pair is usable on the new stream.
      host.restart();
      host.authorized({ local: host.localDomain!, remote: host.remoteDomain! }, 'sasl-external');
      return 'restart';
    }
    const condition = element.elements()[0]?.name ?? 'not-authorized';
    // XEP-0178 section 3: a refusal is not the end; dialback may follow.
    host.logger.warn('s2s outgoing SASL EXTERNAL refused', { condition });
    host.pairRefused({ local: host.localDomain!, remote: host.remoteDomain! }, 'sasl-external');
    return 'done';
  }

  function receive(element: Element): StepResult {
    if (element.name !== 'auth') throw new StreamError('not-authorized', `unexpected SASL <${element.name}/>`);
    const sender = host.remoteDomain;
    const fail = (condition: string): StepResult => {
      host.write(new Element('failure', NS_SASL, {}, [new Element(condition, NS_SASL)]));
      if (sender && host.localDomain) host.pairRefused({ local: host.localDomain, remote: sender }, 'sasl-external');
      return 'done';
    };
    if (succeeded || host.hostNamed || element.attrs.mechanism !== 'EXTERNAL' || !host.secure || !sender) return fail('invalid-mechanism');
    if (host.certificate(sender).status !== 'valid') return fail('not-authorized');
    const response = element.text().trim();
    const authzid = response === '' || response === '=' ? '' : Buffer.from(response, 'base64').toString('utf8');
    // XEP-0178 section 3 / RFC 6120 section 6.3.8: an authorization identity, if any, must be the sender.
    if (authzid !== '' && authzid !== sender) return fail('invalid-authzid');
    const pair = { local: host.localDomain!, remote: sender };
    const admission = host.admits(pair, 'sasl-external');
    if (admission.kind === 'reject') {
      host.logger.warn('s2s incoming SASL EXTERNAL refused by policy', { from: sender, reason: admission.text, rule: admission.rule });
      return fail('not-authorized');
    }
    host.write(new Element('success', NS_SASL));
    succeeded = true;
    host.authorized(pair, 'sasl-external');
    host.restart();
    return 'restart';
  }
}
