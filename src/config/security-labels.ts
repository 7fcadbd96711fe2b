/**
 * `s2s.security_labels` (XEP-0258; docs/labels.md): security policies with ordered
 * classifications and categories, clearances by JID pattern, and the labels and clearances the
 * peering rules name. Read here into their resolved form, each problem reported at its key path;
 * src/policy/labels.ts decides with them.
 */
import { entryPath } from './describe.ts';
import { parseJidPattern } from './jid-pattern.ts';
import type { PeeringGroup, S2sPeeringRule, SecurityLabelsConfig, SecurityPolicyConfig } from './types.ts';
import type { ConfigProblem } from './validate.ts';

/** A label or a clearance: a classification and a set of categories of one policy. */
export interface LabelValue {
  classification: string;
  categories: readonly string[];
}

/** What the validator hands over. */
export interface ValidatedSecurityLabels {
  policy: string;
  policies: Record<
    string,
    {
      classifications: readonly string[];
      categories: readonly string[];
      default_label?: string;
      default_clearance?: string;
      ess: Record<string, { label: string }>;
      catalog: readonly string[];
      equivalence: { classifications: readonly string[]; categories: readonly string[] };
    }
  >;
  clearances: Record<string, { clearance: string }>;
  local: boolean;
  rooms: Record<string, { clearance: string; label?: string }>;
}

/** "secret finance legal": the classification, then the categories; throws with the reason when the policy knows one of them not. */
export function parseLabelText(text: string, policy: Pick<SecurityPolicyConfig, 'name' | 'classifications' | 'categories'>): LabelValue {
  const [classification, ...categories] = text.trim().split(/\s+/);
  if (classification === undefined || classification === '') throw new Error('a label is a classification followed by its categories, such as "secret finance"');
  if (!policy.classifications.includes(classification)) throw new Error(`"${classification}" is not a classification of the policy ${policy.name} (${policy.classifications.join(', ')})`);
  for (const category of categories) {
    if (!policy.categories.includes(category)) throw new Error(`"${category}" is not a category of the policy ${policy.name}${policy.categories.length === 0 ? ', which has none' : ` (${policy.categories.join(', ')})`}`);
  }
  return { classification, categories: [...new Set(categories)].sort() };
}

/** "governing = this": one pair of an equivalence list. */
export function parseEquivalence(text: string): [string, string] {
  const match = /^\s*(\S+)\s*=\s*(\S+)\s*$/.exec(text);
  if (!match) throw new Error('an equivalence is written "name in the governing policy = name in this one"');
  return [match[1]!, match[2]!];
}

/** ESS labels are compared as their base64 text without white space. */
export function normalizeEss(encoding: string): string {
  return encoding.replace(/\s+/g, '');
}

/**
 * The section in its resolved form, with what cannot work reported: labels and clearances that
 * name what their policy does not have, equivalences that do not map into the policy, patterns
 * naming unknown groups, and peering rules whose clearance or label policy does not exist.
 */
export function resolveSecurityLabels(
  validated: ValidatedSecurityLabels | undefined,
  rules: readonly S2sPeeringRule[],
  groups: readonly PeeringGroup[],
  problems: ConfigProblem[],
): SecurityLabelsConfig | undefined {
  const usesLabels = rules.filter((rule) => rule.clearance !== undefined || rule.label_policy !== undefined);
  if (validated === undefined) {
    for (const rule of usesLabels) {
      problems.push({ path: `${entryPath('s2s.peering', rule.domain)}.${rule.clearance !== undefined ? 'clearance' : 'label_policy'}`, message: 'security labels are not configured: write s2s.security_labels first' });
    }
    return undefined;
  }
  const at = 's2s.security_labels';
  const policies: SecurityPolicyConfig[] = Object.entries(validated.policies).map(([name, written]) => ({
    name,
    classifications: written.classifications,
    categories: written.categories,
    ...(written.default_label === undefined ? {} : { default_label: written.default_label }),
    ...(written.default_clearance === undefined ? {} : { default_clearance: written.default_clearance }),
    ess: Object.entries(written.ess).map(([encoding, { label }]) => ({ encoding: normalizeEss(encoding), label })),
    catalog: written.catalog,
    equivalence: written.equivalence,
  }));
  const governing = policies.find((policy) => policy.name === validated.policy);
  if (!governing) {
    problems.push({ path: `${at}.policy`, message: `no policy "${validated.policy}" in ${at}.policies` });
    return undefined;
  }
  const check = (path: string, run: () => unknown) => {
    try {
      run();
    } catch (error) {
      problems.push({ path, message: (error as Error).message });
    }
  };
  for (const policy of policies) {
    const base = entryPath(`${at}.policies`, policy.name);
    if (policy.classifications.length === 0) problems.push({ path: `${base}.classifications`, message: 'a policy needs at least one classification' });
    if (policy.default_label !== undefined) check(`${base}.default_label`, () => parseLabelText(policy.default_label!, policy));
    if (policy.default_clearance !== undefined) check(`${base}.default_clearance`, () => parseLabelText(policy.default_clearance!, policy));
    for (const { encoding, label } of policy.ess) check(`${entryPath(`${base}.ess`, encoding)}.label`, () => parseLabelText(label, policy));
    policy.catalog.forEach((label, index) => check(`${base}.catalog[${index}]`, () => parseLabelText(label, policy)));
    const pairs = [...policy.equivalence.classifications, ...policy.equivalence.categories];
    if (policy !== governing && pairs.length === 0) problems.push({ path: `${base}.equivalence`, message: `no label of ${governing.name} maps into ${policy.name}: write its equivalence` });
    if (policy === governing && pairs.length > 0) problems.push({ path: `${base}.equivalence`, message: 'the governing policy is not mapped into itself; write equivalences in the other policies' });
    for (const [list, ofGoverning, ofThis] of [
      ['classifications', governing.classifications, policy.classifications],
      ['categories', governing.categories, policy.categories],
    ] as const) {
      policy.equivalence[list].forEach((text, index) =>
        check(`${base}.equivalence.${list}[${index}]`, () => {
          const [from, to] = parseEquivalence(text);
          if (!ofGoverning.includes(from)) throw new Error(`"${from}" is not among the ${list} of the governing policy ${governing.name}`);
          if (!ofThis.includes(to)) throw new Error(`"${to}" is not among the ${list} of ${policy.name}`);
        }),
      );
    }
  }
  const clearances = Object.entries(validated.clearances).map(([who, { clearance }]) => {
    const path = entryPath(`${at}.clearances`, who);
    const pattern = parseJidPattern(who);
    if (pattern.kind === 'group' && !groups.some((group) => group.name === pattern.name)) problems.push({ path, message: `no group "${pattern.name}" in s2s.peering_groups` });
    check(`${path}.clearance`, () => parseLabelText(clearance, governing));
    return { who, clearance };
  });
  const rooms = Object.entries(validated.rooms).map(([who, { clearance, label }]) => {
    const path = entryPath(`${at}.rooms`, who);
    const pattern = parseJidPattern(who);
    // A room is an address of a service, never a group of users.
    if (pattern.kind === 'group') problems.push({ path, message: 'a room is named by its address or a pattern of addresses, not a group' });
    check(`${path}.clearance`, () => parseLabelText(clearance, governing));
    if (label !== undefined) check(`${path}.label`, () => parseLabelText(label, governing));
    return { who, clearance, ...(label === undefined ? {} : { label }) };
  });
  for (const rule of usesLabels) {
    const path = entryPath('s2s.peering', rule.domain);
    if (rule.clearance !== undefined) check(`${path}.clearance`, () => parseLabelText(rule.clearance!, governing));
    if (rule.label_policy !== undefined && !policies.some((policy) => policy.name === rule.label_policy)) {
      problems.push({ path: `${path}.label_policy`, message: `no policy "${rule.label_policy}" in ${at}.policies` });
    }
  }
  return { policy: governing.name, policies, clearances, local: validated.local, rooms };
}
