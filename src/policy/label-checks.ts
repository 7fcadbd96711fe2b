/**
 * Security labels (XEP-0258; docs/labels.md) on one stanza crossing to or from a remote domain:
 * the effective label of each labelled part checked against the clearances of the sender, the
 * recipient and the peer server (the rule's `clearance`), all under the governing policy; an
 * unlabelled message given the default label or refused; the label then written in the policy
 * of where the stanza goes (out: the rule's `label_policy`; in: the governing policy), mapped by
 * that policy's equivalence, with the original kept as an `<equivalentlabel/>` and the display
 * marking recomputed.
 *
 * What carries a label (section 5): a message (its `<securitylabel/>` child) and the items of
 * publish-subscribe payloads in messages and IQs (section 5.4). Presence never does (section 5.3):
 * a labelled presence is a protocol violation. An error crossing in with a label is discarded;
 * one crossing out loses it (section 5: an error carries no label).
 */
import type { Jid } from '../jid/jid.ts';
import type { Element } from '../xml/element.ts';
import { NS_SECURITY_LABEL } from '../xml/namespaces.ts';
import type { StanzaErrorCondition, StanzaErrorType } from '../xml/stanza-error.ts';
import type { Clearance, Label, SecurityLabels, SecurityPolicy } from './labels.ts';
import type { DomainChecks } from './peering-checks.ts';
import type { CheckStep, Crossing } from './stanza-checks.ts';
import { reject, type StanzaVerdict } from './verdict.ts';

/** Labels nested deeper than this (an item in a publish in an IQ is at 4) are not looked for. */
const MAX_DEPTH = 5;

/** The answer: a refusal, or the stanza to go on with (changed or not), with the steps and the effective label's marking. */
export interface LabelJudgement {
  refusal?: StanzaVerdict & { kind: 'reject' };
  stanza: Element;
  /** the key paths of what changed the stanza, when it changed */
  changedBy: string[];
  steps: CheckStep[];
  /** the display marking of the message's effective label under the governing policy, for the audit trail */
  marking?: string;
  /** the message's effective label under the governing policy */
  label?: Label;
}

/** A place a label sits or, for a message without one, would sit. */
interface Slot {
  parent: Element;
  label: Element | undefined;
}

/** Whose clearances a stanza's labels are judged against, and how they are written where it goes. */
export interface LabelScope {
  /** `in`: an error with a label is discarded; `out` and `local`: its label is removed */
  direction: 'in' | 'out' | 'local';
  /** the clearances every label must be within, each with whose it is (`role` "sender", `party` alice@example.com) */
  parties: readonly Party[];
  /** the policy labels are written in where the stanza goes, and the key that chose it */
  target: SecurityPolicy;
  targetAt: string;
  /** where the stanza goes, for the texts: "cross to or from partner.example" */
  passage: string;
  /** the key of a rule whose refusals are silent (`refusal: drop`) */
  silentAt?: string;
  /** the steps include the checks that passed (`trellis policy explain`) */
  explain?: boolean;
}

/** Whose clearance a label is judged against: named in texts as "sender alice@example.com", "server of partner.example". */
export interface Party {
  role: string;
  /** an address (named by its bare JID) or a domain */
  party: Jid | string;
  clearance: Clearance;
}

function named({ role, party }: Party): string {
  return `${role} ${typeof party === 'string' ? party : party.bare().toString()}`;
}

/** A stanza crossing to or from a remote domain: sender, recipient and the peer server's clearance; written for the rule's label policy going out. */
export function judgeLabels(stanza: Element, crossing: Crossing, checks: DomainChecks, labels: SecurityLabels, explain = false): LabelJudgement {
  const remote = crossing.direction === 'out' ? crossing.to.domain : crossing.from.domain;
  return judgeLabelsFor(stanza, labels, {
    direction: crossing.direction,
    parties: [
      { role: 'sender', party: crossing.from, clearance: labels.clearanceOf(crossing.from) },
      { role: 'recipient', party: crossing.to, clearance: labels.clearanceOf(crossing.to) },
      { role: 'server of', party: remote, clearance: labels.peerClearance(checks.clearance) },
    ],
    target: crossing.direction === 'out' ? labels.policy(checks.label_policy?.value) : labels.governing,
    targetAt: crossing.direction === 'out' && checks.label_policy ? checks.label_policy.at : 's2s.security_labels.policy',
    passage: `cross to or from ${remote}`,
    ...(checks.refusal?.value === 'drop' ? { silentAt: checks.refusal.at } : {}),
    explain,
  });
}

export function judgeLabelsFor(stanza: Element, labels: SecurityLabels, scope: LabelScope): LabelJudgement {
  const steps: CheckStep[] = [];
  const silent = scope.silentAt !== undefined;
  const refuse = (at: string, condition: StanzaErrorCondition, type: StanzaErrorType, why: string, options: { quiet?: boolean } = {}): LabelJudgement => {
    const quiet = options.quiet === true || silent;
    const text = `${why} (${at}${silent ? `; ${scope.silentAt} = drop` : ''})`;
    steps.push({ check: 'labels', outcome: options.quiet ? 'drop' : 'refuse', text, rule: at });
    // XEP-0258 section 5: the error carries nothing of the refused stanza's content.
    return { refusal: reject(at, condition, text, { type, silent: quiet, withholdsContent: true }), stanza, changedBy: [], steps };
  };
  const type = stanza.attrs.type;
  const own = stanza.getChildren('securitylabel', NS_SECURITY_LABEL);

  if (type === 'error') {
    if (own.length === 0) return { stanza, changedBy: [], steps };
    // XEP-0258 section 5: an incoming error with a label is discarded; ours never carries one.
    if (scope.direction === 'in') return refuse('s2s.security_labels', 'bad-request', 'modify', 'an error carrying a security label is discarded', { quiet: true });
    const stripped = stanza.clone();
    stripped.children = stripped.children.filter((child) => typeof child === 'string' || child.xmlns !== NS_SECURITY_LABEL);
    steps.push({ check: 'labels', outcome: 'transform', text: 'removed the security label from an error', rule: 's2s.security_labels' });
    return { stanza: stripped, changedBy: ['s2s.security_labels'], steps };
  }
  if (stanza.name === 'presence') {
    // XEP-0258 section 5.3: presence with a label is a protocol violation.
    if (own.length > 0) return refuse('s2s.security_labels', 'bad-request', 'modify', 'presence may not carry a security label');
    return { stanza, changedBy: [], steps };
  }
  if (stanza.name === 'iq' && type !== 'get' && type !== 'set') return { stanza, changedBy: [], steps };
  if (own.length > 1) return refuse('s2s.security_labels', 'bad-request', 'modify', 'a message carries at most one security label');

  const slots = slotsOf(stanza);
  if (slots.length === 0) return { stanza, changedBy: [], steps };

  const governing = labels.governing;
  const { target, targetAt, parties } = scope;
  let marking: string | undefined;
  let effectiveLabel: Label | undefined;
  /** the new `<securitylabel/>` of each slot that changes, at its index */
  const replacements: (Element | undefined)[] = [];
  let replaced = 0;
  for (let index = 0; index < slots.length; index++) {
    const slot = slots[index]!;
    let label: Label | undefined;
    let defaulted = false;
    if (slot.label === undefined) {
      label = governing.defaultLabel;
      defaulted = true;
      if (label === undefined) return refuse(`s2s.security_labels.policies[${JSON.stringify(governing.name)}].default_label`, 'forbidden', 'auth', `an unlabelled message does not ${scope.passage}: the policy ${governing.name} has no default label`);
    } else {
      const effective = labels.effective(slot.label);
      label = effective.label;
      defaulted = effective.empty;
      if (label === undefined) {
        const why = effective.empty ? `an empty label has no default under the policy ${governing.name}` : `the label is not one the policies of this server read`;
        return refuse(effective.empty ? `s2s.security_labels.policies[${JSON.stringify(governing.name)}].default_label` : 's2s.security_labels.policies', 'forbidden', 'auth', why);
      }
    }
    const shown = governing.marking(label);
    if (slot.parent === stanza) {
      marking = shown;
      effectiveLabel = label;
    }
    for (const party of parties) {
      const { clearance } = party;
      // XEP-0258 section 5: the ACDF with the nil clearance always denies.
      if (!governing.grants(clearance.label, label)) {
        const held = clearance.label === undefined ? 'no clearance' : `clearance ${governing.marking(clearance.label)}`;
        const result = refuse(clearance.at, 'forbidden', 'auth', `the label ${shown} is not within the ${named(party)}'s ${held}`);
        return { ...result, marking: shown, label };
      }
      if (scope.explain) steps.push({ check: 'clearance', outcome: 'pass', text: `${shown} is within the ${named(party)}'s clearance ${governing.marking(clearance.label!)}`, rule: clearance.at });
    }
    const written = express(slot, label, defaulted, target, governing);
    if (written === 'no equivalent') {
      const result = refuse(targetAt, 'forbidden', 'auth', `the label ${shown} has no equivalent under the policy ${target.name} where it would ${scope.passage}`);
      return { ...result, marking: shown };
    }
    if (written !== undefined) {
      replacements[index] = written.replacement;
      replaced++;
      steps.push({ check: 'labels', outcome: 'transform', text: written.text, rule: targetAt });
    } else if (scope.explain) {
      steps.push({ check: 'labels', outcome: 'pass', text: `the label ${shown} crosses as it is`, rule: targetAt });
    }
  }
  const audited = marking === undefined ? {} : { marking, ...(effectiveLabel === undefined ? {} : { label: effectiveLabel }) };
  if (replaced === 0) return { stanza, changedBy: [], steps, ...audited };
  // The copy has the same slots in the same order; each changed one gets its new label.
  const copy = stanza.clone();
  const copySlots = slotsOf(copy);
  for (let index = 0; index < copySlots.length; index++) {
    const slot = copySlots[index]!;
    const replacement = replacements[index];
    if (replacement === undefined) continue;
    const at = slot.label === undefined ? -1 : slot.parent.children.indexOf(slot.label);
    if (at < 0) slot.parent.children.push(replacement);
    else slot.parent.children[at] = replacement;
  }
  return { stanza: copy, changedBy: [targetAt], steps, ...audited };
}

/** The message's own label (or where it would go) and the labels of items below it, in document order. */
function slotsOf(stanza: Element): Slot[] {
  const slots: Slot[] = stanza.name === 'message' ? [{ parent: stanza, label: stanza.getChild('securitylabel', NS_SECURITY_LABEL) }] : [];
  collectItemLabels(stanza, 1, slots);
  return slots;
}

/**
 * The label of a slot written for the target policy: undefined when the target already reads its
 * `<label/>`; else a new `<securitylabel/>` whose label is the target's equivalent, with the label
 * as it was (or, for a default, as the governing policy writes it) kept among the equivalent
 * labels, and the display marking of the target policy.
 */
function express(slot: Slot, label: Label, defaulted: boolean, target: SecurityPolicy, governing: SecurityPolicy): { replacement: Element; text: string } | 'no equivalent' | undefined {
  const inner = slot.label?.getChild('label', NS_SECURITY_LABEL)?.elements()[0];
  if (inner !== undefined && target.read(inner) !== undefined) return undefined;
  const mapped = target === governing ? label : target.fromGoverning(label);
  if (mapped === undefined) return 'no equivalent';
  const equivalents: Element[] = [];
  const kept = [inner, ...(slot.label?.getChildren('equivalentlabel', NS_SECURITY_LABEL) ?? []).map((wrapper) => wrapper.elements()[0])];
  for (const element of kept) if (element !== undefined) equivalents.push(element);
  if ((inner === undefined || defaulted) && target !== governing) equivalents.unshift(governing.render(label));
  const replacement = target.securityLabel(mapped, equivalents.filter((element) => target.read(element) === undefined));
  const from = slot.label === undefined ? `no label: the default ${governing.marking(label)}` : defaulted ? `the empty label: the default ${governing.marking(label)}` : governing.marking(label);
  return { replacement, text: `${from} written as ${target.marking(mapped)} of the policy ${target.name}${equivalents.length > 0 ? ', the original kept as an equivalent label' : ''}` };
}

/** Labels of items (publish-subscribe, section 5.4) below the stanza's own children. */
function collectItemLabels(element: Element, depth: number, slots: Slot[]): void {
  if (depth > MAX_DEPTH) return;
  for (const child of element.elements()) {
    if (child.xmlns === NS_SECURITY_LABEL) {
      if (depth > 1) slots.push({ parent: element, label: child });
      continue;
    }
    collectItemLabels(child, depth + 1, slots);
  }
}
