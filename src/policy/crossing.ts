/**
 * Everything a peering rule checks on one stanza crossing to or from its domains, in order:
 * security labels (label-checks.ts, when `s2s.security_labels` is configured), hidden features
 * (feature-restriction.ts), then the rule's other checks and actions (stanza-checks.ts) on the
 * stanza as the first two left it. The first refusal ends the judgement; changes add up.
 */
import type { JidPattern } from '../config/jid-pattern.ts';
import type { Element } from '../xml/element.ts';
import { restrictFeatures, type FeatureJudgement } from './feature-restriction.ts';
import { judgeLabels } from './label-checks.ts';
import type { SecurityLabels } from './labels.ts';
import type { DomainChecks } from './peering-checks.ts';
import { judgeStanza, type CheckStep, type Crossing, type StanzaJudgement } from './stanza-checks.ts';

/** `explain`: the steps include the checks that passed (`trellis policy explain`), which a stanza on its way does without. */
export function judgeCrossing(stanza: Element, crossing: Crossing, checks: DomainChecks, groups: ReadonlyMap<string, readonly JidPattern[]>, labels: SecurityLabels | undefined, explain = false): StanzaJudgement {
  const steps: CheckStep[] = [];
  const changedBy: string[] = [];
  let current = stanza;
  let label: string | undefined;
  for (const stage of STAGES) {
    const result = stage(current, crossing, checks, labels, explain);
    if (result === undefined) continue;
    steps.push(...result.steps);
    label ??= result.marking;
    if (result.refusal) {
      const silent = result.refusal.silent || checks.refusal?.value === 'drop';
      return { verdict: { ...result.refusal, silent }, steps, ...withLabel(label) };
    }
    current = result.stanza;
    changedBy.push(...result.changedBy);
  }
  const rest = judgeStanza(current, crossing, checks, groups, explain);
  steps.push(...rest.steps);
  if (rest.verdict.kind === 'reject') return { verdict: rest.verdict, steps, ...withLabel(label) };
  if (rest.verdict.kind === 'transform') {
    current = rest.verdict.stanza;
    changedBy.push(rest.verdict.rule);
  }
  if (changedBy.length === 0) return { verdict: rest.verdict, steps, ...withLabel(label) };
  const remote = crossing.direction === 'out' ? crossing.to.domain : crossing.from.domain;
  return { verdict: { kind: 'transform', rule: changedBy.join(', '), stanza: current, text: `changed for ${remote}` }, steps, ...withLabel(label) };
}

type Stage = (stanza: Element, crossing: Crossing, checks: DomainChecks, labels: SecurityLabels | undefined, explain: boolean) => (FeatureJudgement & { marking?: string }) | undefined;

/** The stages before the rule's other checks, in order; a stage that does not apply answers undefined. */
const STAGES: readonly Stage[] = [
  (stanza, crossing, checks, labels, explain) => labels && judgeLabels(stanza, crossing, checks, labels, explain),
  (stanza, crossing, checks, _labels, explain) => checks.hide_features && restrictFeatures(stanza, crossing, checks.hide_features, explain),
];

function withLabel(label: string | undefined): { label?: string } {
  return label === undefined ? {} : { label };
}
