/**
 * Hidden features (`hide_features` of a peering rule; docs/peering.md, "Hiding features"): disco
 * features kept from the rule's domains while the answers they get stay truthful
 * (XEP-0030, XEP-0115):
 * - a disco#info result crossing to them leaves the hidden features out;
 * - presence crossing to them loses its entity capabilities: the `ver` hash was computed over
 *   the full feature set (XEP-0115 section 5.1), so once features are hidden it would name a set
 *   the peer can never see, and this server cannot compute a client's hash again without its
 *   whole disco#info; without caps the peer asks disco#info, whose answer is filtered;
 * - IQ requests and messages using a hidden feature (an element in its namespace) are refused
 *   both ways with service-unavailable, the answer for a feature that is not there (RFC 6120
 *   section 8.3.3.19); presence loses elements in a hidden namespace, as presence is not answered.
 * A feature `X` also hides `X+notify` (XEP-0163 section 4).
 */
import type { Element } from '../xml/element.ts';
import { reject } from './verdict.ts';
import type { LabelJudgement } from './label-checks.ts';
import type { Setting } from './peering-checks.ts';
import type { CheckStep, Crossing } from './stanza-checks.ts';

const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
/** Entity capabilities: XEP-0115 and XEP-0390. */
const CAPS_NAMESPACES = new Set(['http://jabber.org/protocol/caps', 'urn:xmpp:caps']);
/** Elements deeper than this are not looked at (a Jingle description is at 3). */
const MAX_DEPTH = 4;

export type FeatureJudgement = Omit<LabelJudgement, 'marking'>;

export function restrictFeatures(stanza: Element, crossing: Crossing, setting: Setting<'hide_features'>, explain = false): FeatureJudgement {
  const hidden = setting.value;
  const steps: CheckStep[] = [];
  const unchanged = (): FeatureJudgement => ({ stanza, changedBy: [], steps });
  if (hidden.length === 0) return unchanged();
  const isHidden = (namespace: string) => hidden.some((feature) => namespace === feature || namespace === `${feature}+notify`);
  const remote = crossing.direction === 'out' ? crossing.to.domain : crossing.from.domain;
  const type = stanza.attrs.type;
  if (type === 'error') return unchanged();

  if (stanza.name === 'iq' && type === 'result') {
    const query = stanza.getChild('query', NS_DISCO_INFO);
    if (crossing.direction !== 'out' || query === undefined) return unchanged();
    const left = query.getChildren('feature', NS_DISCO_INFO).filter((feature) => isHidden(feature.attrs.var ?? ''));
    if (left.length === 0) return pass(stanza, steps, setting, explain && 'no hidden feature in disco#info');
    const copy = stanza.clone();
    const filtered = copy.getChild('query', NS_DISCO_INFO)!;
    filtered.children = filtered.children.filter((child) => typeof child === 'string' || !(child.name === 'feature' && child.xmlns === NS_DISCO_INFO && isHidden(child.attrs.var ?? '')));
    steps.push({ check: 'hide_features', outcome: 'transform', text: `left out of disco#info: ${left.map((feature) => feature.attrs.var).join(', ')}`, rule: setting.at });
    return { stanza: copy, changedBy: [setting.at], steps };
  }

  if (stanza.name === 'presence') {
    const removed = stanza.elements().filter((child) => isHidden(child.xmlns) || (crossing.direction === 'out' && CAPS_NAMESPACES.has(child.xmlns)));
    if (removed.length === 0) return pass(stanza, steps, setting, explain && 'no caps or hidden feature in presence');
    const copy = stanza.clone();
    copy.children = copy.children.filter((child) => typeof child === 'string' || !removed.some((gone) => gone.name === child.name && gone.xmlns === child.xmlns));
    const text = removed.map((child) => (CAPS_NAMESPACES.has(child.xmlns) ? `removed <${child.name} xmlns="${child.xmlns}"/>: its hash covers hidden features` : `removed <${child.name} xmlns="${child.xmlns}"/>`)).join(', ');
    steps.push({ check: 'hide_features', outcome: 'transform', text, rule: setting.at });
    return { stanza: copy, changedBy: [setting.at], steps };
  }

  const used = findNamespace(stanza, isHidden, 1);
  if (used !== undefined) {
    const text = `the feature ${used} is not offered to or from ${remote} (${setting.at})`;
    steps.push({ check: 'hide_features', outcome: 'refuse', text, rule: setting.at });
    return { stanza, changedBy: [], steps, refusal: reject(setting.at, 'service-unavailable', text, { type: 'cancel' }) };
  }
  return pass(stanza, steps, setting, explain && `none of ${hidden.join(', ')} used`);
}

/** `text` is false when the judgement is not explained: then the step is not written. */
function pass(stanza: Element, steps: CheckStep[], setting: Setting<'hide_features'>, text: string | false): FeatureJudgement {
  if (text !== false) steps.push({ check: 'hide_features', outcome: 'pass', text, rule: setting.at });
  return { stanza, changedBy: [], steps };
}

function findNamespace(element: Element, isHidden: (namespace: string) => boolean, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  for (const child of element.elements()) {
    if (isHidden(child.xmlns)) return child.xmlns;
    const found = findNamespace(child, isHidden, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
