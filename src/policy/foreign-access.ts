/**
 * Foreign access rules (the Jabber XCP control of which features foreign entities may use):
 * what users and services on other servers may send to a host's users and services. Applied by
 * the router to stanzas that arrive from remote servers; what local users send is not judged.
 * The verdict names the key path of the entry that decided.
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
import { FEATURE_GROUPS, isFeatureGroup, type FeatureGroup, type StanzaFacts } from './foreign-groups.ts';
import { proceed, reject, type StanzaVerdict } from './verdict.ts';

const NS_JINGLE = 'urn:xmpp:jingle:1';

/** Where each key of a host's rules was written: `foreign_access` or `hosts["example.com"].foreign_access`. */
export interface ForeignAccessKeys {
  default: string;
  deny: string;
  allow: string;
}

interface Entry {
  /** the key path of the entry, e.g. `foreign_access.deny[0]` */
  at: string;
  /** how the rule is named in errors and logs: `foreign_access.deny[0] = "file-transfer"` */
  rule: string;
  specificity: number;
  matches(facts: StanzaFacts): boolean;
}

function compileEntry(at: string, written: string): Entry {
  const rule = `${at} = ${JSON.stringify(written)}`;
  if (isFeatureGroup(written)) {
    const group: FeatureGroup = FEATURE_GROUPS[written];
    return { at, rule, specificity: group.specificity, matches: group.matches };
  }
  return { at, rule, specificity: 3, matches: (facts) => facts.namespaces.has(written) };
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

/** One host's rules, compiled once. */
export class ForeignAccess {
  readonly #defaultAllows: boolean;
  readonly #defaultAt: string;
  readonly #allow: Entry[];
  readonly #deny: Entry[];

  constructor(rules: ForeignAccessRules, keys: ForeignAccessKeys = { default: 'foreign_access.default', deny: 'foreign_access.deny', allow: 'foreign_access.allow' }) {
    this.#defaultAllows = rules.default === 'allow';
    this.#defaultAt = keys.default;
    this.#allow = rules.allow.map((written, index) => compileEntry(`${keys.allow}[${index}]`, written));
    this.#deny = rules.deny.map((written, index) => compileEntry(`${keys.deny}[${index}]`, written));
  }

  /**
   * Judges a stanza from another server. An IQ is refused with service-unavailable, what RFC
   * 6120 section 8.3.3.19 gives for a service that is not offered (and what other servers
   * answer for a disabled feature); a message with not-allowed (section 8.3.3.10); presence
   * silently, as undeliverable presence is dropped (RFC 6121 section 8.5.1).
   */
  judge(stanza: Element): StanzaVerdict {
    const type = stanza.attrs.type;
    if (type === 'error' || (stanza.name === 'iq' && type === 'result')) return proceed('foreign_access', 'errors and results always pass');
    const facts = stanzaFacts(stanza);
    const allowed = mostSpecific(this.#allow, facts);
    const denied = mostSpecific(this.#deny, facts);
    let refusedBy: { at: string; rule: string } | undefined;
    if (denied && !(allowed && allowed.specificity > denied.specificity)) refusedBy = denied;
    else if (!denied && !allowed && !this.#defaultAllows) refusedBy = { at: this.#defaultAt, rule: `${this.#defaultAt} = deny` };
    if (refusedBy === undefined) return allowed ? proceed(allowed.at, allowed.rule) : proceed(this.#defaultAt, `${this.#defaultAt} = allow`);
    const text = `not accepted from other servers here (${refusedBy.rule})`;
    return reject(refusedBy.at, stanza.name === 'iq' ? 'service-unavailable' : 'not-allowed', text, { silent: stanza.name === 'presence' });
  }
}
