/**
 * Security labels (XEP-0258; docs/labels.md): the policies of `s2s.security_labels` compiled,
 * the access control decision function (section 5: Grant or Deny for a clearance and a label),
 * clearances by address, labels read from and written into `<securitylabel/>`, and labels
 * mapped between policies by the equivalences the destination policy defines.
 *
 * A label is a classification and a set of categories of one policy. It travels either as an
 * ESS label (`urn:xmpp:sec-label:ess:0`, opaque base64 DER, matched by exact equality against
 * the ESS labels a policy lists) or in this server's XML form, which names its policy:
 * `<seclabel xmlns='urn:xmpp:trellis:sec-label:0' policy='P' classification='C'><category>K</category></seclabel>`.
 */
import type { JidPattern } from '../config/jid-pattern.ts';
import { normalizeEss, parseEquivalence, parseLabelText } from '../config/security-labels.ts';
import type { SecurityLabelsConfig, SecurityPolicyConfig } from '../config/types.ts';
import type { Jid } from '../jid/jid.ts';
import { el, type Element } from '../xml/element.ts';
import { NS_SECURITY_LABEL } from '../xml/namespaces.ts';
import { JidPatternList } from './jid-rules.ts';

export const NS_ESS_LABEL = 'urn:xmpp:sec-label:ess:0';
export const NS_XML_LABEL = 'urn:xmpp:trellis:sec-label:0';
export const NS_LABEL_CATALOG = 'urn:xmpp:sec-label:catalog:2';

export interface Label {
  policy: string;
  classification: string;
  /** sorted */
  categories: readonly string[];
}

/** A clearance and the key path that gave it; undefined: the nil clearance (section 5), which grants nothing. */
export interface Clearance {
  readonly label: Label | undefined;
  readonly at: string;
}

const POLICIES = 's2s.security_labels.policies';

export class SecurityPolicy {
  readonly name: string;
  readonly #ranks: Map<string, number>;
  readonly defaultLabel: Label | undefined;
  readonly defaultClearance: Label | undefined;
  readonly #essLabels = new Map<string, Label>();
  readonly #essOf = new Map<string, string>();
  readonly catalog: readonly Label[];
  /** governing → this, and back (several governing names may map to one: the highest, or all categories, come back) */
  readonly #toThis: { classifications: Map<string, string>; categories: Map<string, string> };
  readonly #fromThis: { classifications: Map<string, string>; categories: Map<string, string[]> };
  readonly #config: SecurityPolicyConfig;
  /** the display marking of each classification alone: most labels have no category, and a marking is asked for every labelled stanza that crosses */
  readonly #plainMarkings: Map<string, string>;

  constructor(config: SecurityPolicyConfig, governing: SecurityPolicyConfig) {
    this.name = config.name;
    this.#config = config;
    this.#ranks = new Map(config.classifications.map((name, rank) => [name, rank]));
    this.#plainMarkings = new Map(config.classifications.map((name) => [name, name.toUpperCase()]));
    this.defaultLabel = config.default_label === undefined ? undefined : this.parse(config.default_label);
    this.defaultClearance = config.default_clearance === undefined ? undefined : this.parse(config.default_clearance);
    for (const { encoding, label } of config.ess) {
      const parsed = this.parse(label);
      this.#essLabels.set(encoding, parsed);
      if (!this.#essOf.has(labelKey(parsed))) this.#essOf.set(labelKey(parsed), encoding);
    }
    this.catalog = config.catalog.length > 0 ? config.catalog.map((text) => this.parse(text)) : config.classifications.map((classification) => ({ policy: this.name, classification, categories: [] }));
    const governingRank = new Map(governing.classifications.map((name, rank) => [name, rank]));
    this.#toThis = { classifications: new Map(), categories: new Map() };
    this.#fromThis = { classifications: new Map(), categories: new Map() };
    for (const [from, to] of config.equivalence.classifications.map(parseEquivalence)) {
      this.#toThis.classifications.set(from, to);
      const known = this.#fromThis.classifications.get(to);
      if (known === undefined || governingRank.get(from)! > governingRank.get(known)!) this.#fromThis.classifications.set(to, from);
    }
    for (const [from, to] of config.equivalence.categories.map(parseEquivalence)) {
      this.#toThis.categories.set(from, to);
      this.#fromThis.categories.set(to, [...(this.#fromThis.categories.get(to) ?? []), from]);
    }
  }

  parse(text: string): Label {
    return { policy: this.name, ...parseLabelText(text, this.#config) };
  }

  /** XEP-0258 section 5, the ACDF: Grant when the clearance's classification is at least the label's and it holds every category of the label. */
  grants(clearance: Label | undefined, label: Label): boolean {
    if (clearance === undefined || clearance.policy !== this.name || label.policy !== this.name) return false;
    if (this.#ranks.get(label.classification)! > this.#ranks.get(clearance.classification)!) return false;
    return label.categories.every((category) => clearance.categories.includes(category));
  }

  /** The label an element inside `<label/>` or `<equivalentlabel/>` stands for under this policy, if any. */
  read(element: Element): Label | undefined {
    if (element.xmlns === NS_ESS_LABEL && element.name === 'esssecuritylabel') return this.#essLabels.get(normalizeEss(element.text()));
    if (element.xmlns !== NS_XML_LABEL || element.name !== 'seclabel' || element.attrs.policy !== this.name) return undefined;
    const classification = element.attrs.classification ?? '';
    const categories = element.getChildren('category', NS_XML_LABEL).map((category) => category.text().trim());
    if (!this.#ranks.has(classification) || !categories.every((category) => this.#config.categories.includes(category))) return undefined;
    return { policy: this.name, classification, categories: [...new Set(categories)].sort() };
  }

  /** The element that carries a label of this policy: its ESS label when the policy lists one, else the XML form. */
  render(label: Label): Element {
    const ess = this.#essOf.get(labelKey(label));
    if (ess !== undefined) return el('esssecuritylabel', NS_ESS_LABEL).t(ess);
    const element = el('seclabel', NS_XML_LABEL, { policy: label.policy, classification: label.classification });
    for (const category of label.categories) element.c('category').t(category);
    return element;
  }

  /** The display marking this policy prescribes for a label (XEP-0258 section 3). */
  marking(label: Label): string {
    if (label.categories.length === 0) return this.#plainMarkings.get(label.classification) ?? label.classification.toUpperCase();
    return [label.classification, ...label.categories].join(' ').toUpperCase();
  }

  /** A complete `<securitylabel/>` for a label of this policy, with `equivalents` after it. */
  securityLabel(label: Label, equivalents: readonly Element[] = []): Element {
    const element = el('securitylabel', NS_SECURITY_LABEL);
    element.c('displaymarking').t(this.marking(label));
    element.c('label').append(this.render(label));
    for (const equivalent of equivalents) element.c('equivalentlabel').append(equivalent.clone());
    return element;
  }

  /** A label of the governing policy mapped into this one (the destination's equivalence); undefined when part of it has no equivalent. */
  fromGoverning(label: Label): Label | undefined {
    const classification = this.#toThis.classifications.get(label.classification);
    const categories = label.categories.map((category) => this.#toThis.categories.get(category));
    if (classification === undefined || categories.some((category) => category === undefined)) return undefined;
    return { policy: this.name, classification, categories: [...new Set(categories as string[])].sort() };
  }

  /** A label of this policy mapped back into the governing one: the highest classification that maps to it, every category that does. */
  toGoverning(label: Label, governing: string): Label | undefined {
    const classification = this.#fromThis.classifications.get(label.classification);
    const categories = label.categories.map((category) => this.#fromThis.categories.get(category));
    if (classification === undefined || categories.some((category) => category === undefined)) return undefined;
    return { policy: governing, classification, categories: [...new Set(categories.flat() as string[])].sort() };
  }
}

/** A room with a clearance (docs/labels.md, "Rooms"): the labels its messages may carry, and the label its occupants must be cleared for. */
export interface RoomLabels {
  clearance: Clearance & { label: Label };
  label: { label: Label; at: string } | undefined;
}

/** The whole of `s2s.security_labels`, compiled once per policy snapshot. */
export class SecurityLabels {
  readonly governing: SecurityPolicy;
  /** whether messages between two users of this server are checked */
  readonly local: boolean;
  readonly #policies = new Map<string, SecurityPolicy>();
  readonly #clearances: { patterns: JidPatternList; values: Clearance[] };
  /** rules' `clearance` settings read (the settings are the compiled rules' own objects, kept while their domain's checks are cached) */
  readonly #peerClearances = new WeakMap<object, Clearance>();
  readonly #rooms: { patterns: JidPatternList; values: RoomLabels[] };
  readonly #defaultClearance: Clearance;

  constructor(config: SecurityLabelsConfig, groups: ReadonlyMap<string, readonly JidPattern[]>) {
    const governing = config.policies.find((policy) => policy.name === config.policy)!;
    for (const policy of config.policies) this.#policies.set(policy.name, new SecurityPolicy(policy, governing));
    this.governing = this.#policies.get(config.policy)!;
    this.#defaultClearance = { label: this.governing.defaultClearance, at: `${POLICIES}[${JSON.stringify(this.governing.name)}].default_clearance` };
    this.#clearances = {
      patterns: new JidPatternList(
        config.clearances.map((entry) => entry.who),
        groups,
      ),
      values: config.clearances.map((entry) => ({ label: this.governing.parse(entry.clearance), at: `s2s.security_labels.clearances[${JSON.stringify(entry.who)}]` })),
    };
    this.local = config.local;
    this.#rooms = {
      patterns: new JidPatternList(
        config.rooms.map((entry) => entry.who),
        groups,
      ),
      values: config.rooms.map((entry) => {
        const at = `s2s.security_labels.rooms[${JSON.stringify(entry.who)}]`;
        return {
          clearance: { label: this.governing.parse(entry.clearance), at: `${at}.clearance` },
          label: entry.label === undefined ? undefined : { label: this.governing.parse(entry.label), at: `${at}.label` },
        };
      }),
    };
  }

  /** A room's clearance and label: the first room pattern that covers its address; undefined: the room is not label-checked. */
  roomOf(room: Jid): RoomLabels | undefined {
    const index = this.#rooms.patterns.indexOf(room.bare());
    return index >= 0 ? this.#rooms.values[index] : undefined;
  }

  policy(name: string | undefined): SecurityPolicy {
    return (name === undefined ? undefined : this.#policies.get(name)) ?? this.governing;
  }

  /** An address's clearance: the first clearance pattern that covers it, else the governing policy's default, else nil (section 5). */
  clearanceOf(jid: Jid): Clearance {
    const index = this.#clearances.patterns.indexOf(jid);
    if (index >= 0) return this.#clearances.values[index]!;
    return this.defaultClearance();
  }

  /** The clearance of a peer server: its rule's `clearance` (a setting with its key path), else the default (docs/labels.md). */
  peerClearance(written: { value: string; at: string } | undefined): Clearance {
    if (!written) return this.defaultClearance();
    // Asked for every labelled stanza crossing: the setting is read once, not on each crossing.
    let clearance = this.#peerClearances.get(written);
    if (clearance === undefined) {
      clearance = { label: this.governing.parse(written.value), at: written.at };
      this.#peerClearances.set(written, clearance);
    }
    return clearance;
  }

  defaultClearance(): Clearance {
    return this.#defaultClearance;
  }

  /**
   * The effective label (section 5) of a `<securitylabel/>` under the governing policy: its
   * `<label/>` or an `<equivalentlabel/>` read by the governing policy, else one read by another
   * known policy and mapped back; an empty `<label/>` is the default. Undefined: a label no
   * known policy reads is not taken for the default, which would lower what the sender meant.
   */
  effective(securityLabel: Element): { label: Label | undefined; empty: boolean } {
    const labelElement = securityLabel.getChild('label', NS_SECURITY_LABEL);
    const carried = [labelElement, ...securityLabel.getChildren('equivalentlabel', NS_SECURITY_LABEL)].map((wrapper) => wrapper?.elements()[0]).filter((inner) => inner !== undefined);
    if (labelElement !== undefined && labelElement.elements().length === 0) return { label: this.governing.defaultLabel, empty: true };
    for (const inner of carried) {
      const label = this.governing.read(inner);
      if (label) return { label, empty: false };
    }
    for (const inner of carried) {
      for (const policy of this.#policies.values()) {
        if (policy === this.governing) continue;
        const read = policy.read(inner);
        const mapped = read && policy.toGoverning(read, this.governing.name);
        if (mapped) return { label: mapped, empty: false };
      }
    }
    return { label: undefined, empty: false };
  }
}

/**
 * The labels of the governing policy's catalog a client may use toward `target` (XEP-0258
 * section 4: only labels the user may use in that context): those the requester, the target and,
 * for a remote target, its peer server are all cleared for.
 */
export function catalogFor(labels: SecurityLabels, requester: Jid, target: Jid, peer: Clearance | undefined): Label[] {
  const governing = labels.governing;
  const clearances = [labels.clearanceOf(requester), labels.clearanceOf(target), ...(peer ? [peer] : [])];
  return governing.catalog.filter((label) => clearances.every((clearance) => governing.grants(clearance.label, label)));
}

function labelKey(label: Label): string {
  return `${label.classification} ${label.categories.join(' ')}`;
}
