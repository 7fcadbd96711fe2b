/**
 * Foreign access rules (the Jabber XCP control of which features foreign entities may use):
 * what users and services on other servers may send to a host's users and services. Applied by
 * the router to stanzas that arrive from remote servers; what local users send is not judged.
 *
 * Each entry of `allow` and `deny` is a feature group (foreign-groups.ts) or a namespace. The
 * decision for one stanza:
 * 1. Errors, and IQ results, always pass: they answer something sent from here, and an error
 *    is never answered (RFC 6120 section 8.3.1).
 * 2. Of the entries that match, the most specific decides: a namespace (3) over a feature group
 *    (2) over a whole stanza kind (1: message, presence, iq).
 * 3. When an allow entry and a deny entry are equally specific, deny wins.
 * 4. When nothing matches, `default` decides.
 */
import type { ForeignAccessRules } from '../config/types.ts';
import { NS_CLIENT, NS_SERVER, type Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { FEATURE_GROUPS, isFeatureGroup, type FeatureGroup, type StanzaFacts } from './foreign-groups.ts';

const NS_JINGLE = 'urn:xmpp:jingle:1';

/** A refused stanza; `rule` says which entry decided, for the log. */
export class ForeignAccessRefusal extends StanzaError {
  readonly rule: string;
  constructor(condition: 'not-allowed' | 'service-unavailable', rule: string) {
    super(condition, `not accepted from other servers here (foreign_access ${rule})`);
    this.rule = rule;
  }
}

interface Entry {
  /** how the rule is named in errors and logs: `deny "file-transfer"` */
  rule: string;
  specificity: number;
  matches(facts: StanzaFacts): boolean;
}

interface CompiledRules {
  defaultAllows: boolean;
  allow: Entry[];
  deny: Entry[];
}

const compiled = new WeakMap<ForeignAccessRules, CompiledRules>();

function compileEntry(list: 'allow' | 'deny', written: string): Entry {
  const rule = `${list} ${JSON.stringify(written)}`;
  if (isFeatureGroup(written)) {
    const group: FeatureGroup = FEATURE_GROUPS[written];
    return { rule, specificity: group.specificity, matches: group.matches };
  }
  return { rule, specificity: 3, matches: (facts) => facts.namespaces.has(written) };
}

/** Rules are compiled once per (frozen) rules object. */
function compile(rules: ForeignAccessRules): CompiledRules {
  let result = compiled.get(rules);
  if (!result) {
    result = {
      defaultAllows: rules.default === 'allow',
      allow: rules.allow.map((written) => compileEntry('allow', written)),
      deny: rules.deny.map((written) => compileEntry('deny', written)),
    };
    compiled.set(rules, result);
  }
  return result;
}

/** The kind, type and namespaces of a stanza, as the groups see it. */
export function stanzaFacts(stanza: Element): StanzaFacts {
  const namespaces = new Set<string>();
  let hasBody = false;
  for (const child of stanza.elements()) {
    if (child.xmlns === NS_CLIENT || child.xmlns === NS_SERVER) {
      if (child.name === 'body') hasBody = true;
      continue;
    }
    namespaces.add(child.xmlns);
    // XEP-0166 section 7: what a Jingle session carries is named by each content's description and transport.
    if (child.xmlns === NS_JINGLE && child.name === 'jingle') {
      for (const content of child.getChildren('content', NS_JINGLE)) {
        for (const part of content.elements()) if (part.xmlns !== NS_JINGLE) namespaces.add(part.xmlns);
      }
    }
  }
  return { kind: stanza.name as StanzaFacts['kind'], type: stanza.attrs.type, namespaces, hasBody };
}

function mostSpecific(entries: Entry[], facts: StanzaFacts): Entry | undefined {
  let best: Entry | undefined;
  for (const entry of entries) if (entry.matches(facts) && (!best || entry.specificity > best.specificity)) best = entry;
  return best;
}

/**
 * Judges a stanza from another server against a host's rules: undefined to accept it, else the
 * error to refuse it with. An IQ is refused with service-unavailable, what RFC 6120 section
 * 8.3.3.19 gives for a service that is not offered (and what other servers answer for a
 * disabled feature); a message or presence with not-allowed (section 8.3.3.10). The caller
 * drops refused presence without an error, as undeliverable presence is (RFC 6121 section 8.5.1).
 */
export function foreignAccess(stanza: Element, rules: ForeignAccessRules): ForeignAccessRefusal | undefined {
  const type = stanza.attrs.type;
  if (type === 'error' || (stanza.name === 'iq' && type === 'result')) return undefined;
  const { defaultAllows, allow, deny } = compile(rules);
  const facts = stanzaFacts(stanza);
  const allowed = mostSpecific(allow, facts);
  const denied = mostSpecific(deny, facts);
  let refusedBy: string | undefined;
  if (denied && !(allowed && allowed.specificity > denied.specificity)) refusedBy = denied.rule;
  else if (!denied && !allowed && !defaultAllows) refusedBy = 'default deny';
  if (refusedBy === undefined) return undefined;
  return new ForeignAccessRefusal(stanza.name === 'iq' ? 'service-unavailable' : 'not-allowed', refusedBy);
}
