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

export function judgeCrossing(stanza: Element, crossing: Crossing, checks: DomainChecks, groups: ReadonlyMap<string, readonly JidPattern[]>, labels: SecurityLabels | undefined): StanzaJudgement {
  const steps: CheckStep[] = [];
  const changedBy: string[] = [];
  let current = stanza;
  let label: string | undefined;
  const stages: (() => FeatureJudgement & { marking?: string })[] = [];
  if (labels) stages.push(() => judgeLabels(current, crossing, checks, labels));
  if (checks.hide_features) stages.push(() => restrictFeatures(current, crossing, checks.hide_features!));
  for (const stage of stages) {
    const result = stage();
    steps.push(...result.steps);
    label ??= result.marking;
    const withLabel = label === undefined ? {} : { label };
    if (result.refusal) {
      const silent = result.refusal.silent || checks.refusal?.value === 'drop';
      return { verdict: { ...result.refusal, silent }, steps, ...withLabel };
    }
    current = result.stanza;
    changedBy.push(...result.changedBy);
  }
  const rest = judgeStanza(current, crossing, checks, groups);
  steps.push(...rest.steps);
  const withLabel = label === undefined ? {} : { label };
  if (rest.verdict.kind === 'reject') return { verdict: rest.verdict, steps, ...withLabel };
  if (rest.verdict.kind === 'transform') {
    current = rest.verdict.stanza;
    changedBy.push(rest.verdict.rule);
  }
  if (changedBy.length === 0) return { verdict: rest.verdict, steps, ...withLabel };
  const remote = crossing.direction === 'out' ? crossing.to.domain : crossing.from.domain;
  return { verdict: { kind: 'transform', rule: changedBy.join(', '), stanza: current, text: `changed for ${remote}` }, steps, ...withLabel };
}
