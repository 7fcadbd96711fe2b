/**
 * Security labels for local clients (XEP-0258; docs/labels.md): the disco features
 * `urn:xmpp:sec-label:0` and `urn:xmpp:sec-label:catalog:2` (sections 2 and 4), and the label
 * catalog a client asks its own server for, whatever address the catalog is for (section 4).
 * The labels come from the policy in force, so a reload changes them; the features follow the
 * configuration the server started with.
 */
import { tryParseJid } from '../../jid/jid.ts';
import { catalogFor, NS_LABEL_CATALOG } from '../../policy/labels.ts';
import { el } from '../../xml/element.ts';
import { NS_SECURITY_LABEL } from '../../xml/namespaces.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule } from '../context.ts';

export const securityLabelsModule: FeatureModule = ({ host, router, config }) => {
  if (config.s2s.security_labels === undefined || host.service !== undefined) return;
  host.discoFeatures.add(NS_SECURITY_LABEL);
  host.discoFeatures.add(NS_LABEL_CATALOG);
  for (const scope of ['host', 'account'] as const) {
    host.handleIq(scope, 'get', NS_LABEL_CATALOG, 'catalog', ({ payload, from }) => {
      const policy = router.policy.current;
      // Catalogs are for this server's own clients; another server's request is not served.
      if (policy.labels === undefined || from.domain !== host.domain || from.local === undefined) throw new StanzaError('service-unavailable');
      const written = payload.attrs.to ?? host.domain;
      const target = tryParseJid(written);
      if (target === undefined) throw new StanzaError('jid-malformed', `${written} is not an address`);
      const remote = !router.hosts.has(target.domain);
      const governing = policy.labels.governing;
      const items = catalogFor(policy.labels, from, target, remote ? policy.peerClearance(target.domain) : undefined);
      const catalog = el('catalog', NS_LABEL_CATALOG, { to: target.toString(), name: governing.name, desc: `labels of the policy ${governing.name} for ${target.toString()}`, restrict: 'true', size: String(items.length) });
      const fallback = governing.defaultLabel === undefined ? undefined : governing.marking(governing.defaultLabel);
      for (const label of items) {
        const marking = governing.marking(label);
        const item = catalog.c('item', { selector: marking, ...(marking === fallback ? { default: 'true' } : {}) });
        item.append(governing.securityLabel(label));
      }
      return catalog;
    });
  }
};
