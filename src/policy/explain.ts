/**
 * `trellis policy explain --from A --to B`: what the compiled policy decides for traffic
 * between a hosted domain and a remote one, or between two remote domains this server relays
 * between (a trunk, an edge, a domain it fronts), question by question, each with the key path
 * of the rule that decided. The answers come from the same snapshot the server decides with.
 */
import { parseJid } from '../jid/jid.ts';
import type { Element } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import type { PolicySnapshot } from './snapshot.ts';
import type { CheckStep } from './stanza-checks.ts';
import type { NextHop, Verdict } from './verdict.ts';

export interface ExplainedStep {
  /** the question: "stanza out", "route", "connection", "level", "pair" */
  question: string;
  verdict: string;
  text: string;
  rule: string;
}

/** What the checks and actions of the peering rule do to one stanza (`--stanza`). */
export interface StanzaExplanation {
  checks: readonly CheckStep[];
  /** the stanza that would cross, serialized; undefined when it is refused or dropped */
  crossing: string | undefined;
  /** what its sender gets back when refused: the error condition and text; undefined when nothing */
  bounce: string | undefined;
}

export type Explanation =
  | { direction: 'out' | 'in'; local: string; remote: string; steps: ExplainedStep[]; stanza?: StanzaExplanation }
  | { direction: 'relay'; from: string; to: string; steps: ExplainedStep[]; stanza?: StanzaExplanation }
  | { direction: 'none'; reason: string };

function step(question: string, verdict: Verdict): ExplainedStep {
  let kind: string = verdict.kind;
  if (verdict.kind === 'reject' || verdict.kind === 'close') kind = `${verdict.kind} (${verdict.condition})`;
  if (verdict.kind === 'route') kind = routeKind(verdict.via);
  return { question, verdict: kind, text: verdict.text, rule: verdict.rule };
}

/**
 * `from` and `to` are JIDs or domains; `hosted` says which domains are served here; `stanza`, a
 * stanza to judge as if sent from `from` to `to`. Throws on a malformed JID.
 */
export function explain(policy: PolicySnapshot, hosted: (domain: string) => boolean, from: string, to: string, stanza?: Element): Explanation {
  const fromDomain = parseJid(from).domain;
  const toDomain = parseJid(to).domain;
  const [fromHosted, toHosted] = [hosted(fromDomain), hosted(toDomain)];
  if (fromHosted && toHosted) return { direction: 'none', reason: `both ${fromDomain} and ${toDomain} are hosted here: stanzas between them never leave this server` };
  if (!fromHosted && !toHosted) return explainRelay(policy, from, to, stanza);
  const [local, remote] = fromHosted ? [fromDomain, toDomain] : [toDomain, fromDomain];
  const level = levelStep(policy, remote);
  const pair = step('pair', policy.authenticate({ local, remote }));
  const demands = policy.pairDemands(remote).map(({ demand, rule }): ExplainedStep => ({ question: 'pair', verdict: 'requires', text: `${remote} needs ${demand}, both ways`, rule }));
  const checked = stanza === undefined ? {} : { stanza: explainStanza(policy, stanza, fromHosted ? 'out' : 'in', from, to) };
  if (fromHosted) {
    return { direction: 'out', local, remote, steps: [step('stanza out', policy.stanzaOut(remote)), step('route', policy.route(remote)), step('connection', policy.connection({ domain: remote, direction: 'out' })), level, pair, ...demands], ...checked };
  }
  return { direction: 'in', local, remote, steps: [step('connection', policy.connection({ domain: remote, direction: 'in' })), level, pair, ...demands], ...checked };
}

function levelStep(policy: PolicySnapshot, remote: string): ExplainedStep {
  const required = policy.requirement(remote);
  return { question: 'level', verdict: required.level, text: `${remote} must reach ${required.level}`, rule: required.rule };
}

/**
 * Two remote domains: relayed when policy routes both (docs/peering.md, "Trunks and relaying"),
 * the checks of the sender's rule applied as the stanza comes in and the recipient's as it goes
 * out, as the router does; otherwise it never passes this server.
 */
function explainRelay(policy: PolicySnapshot, from: string, to: string, stanza: Element | undefined): Explanation {
  const [fromDomain, toDomain] = [parseJid(from).domain, parseJid(to).domain];
  const relay = policy.relay(fromDomain, toDomain);
  if (relay.kind === 'reject') return { direction: 'none', reason: `neither ${fromDomain} nor ${toDomain} is hosted here, and stanzas between them are not relayed: ${relay.text}  [${relay.rule}]` };
  // `front` is allowed only on a rule for one domain (docs/peering.md, "Fronting a plain peer").
  const fronting = [fromDomain, toDomain]
    .filter((domain) => policy.fronts(domain))
    .map((domain): ExplainedStep => ({ question: 'front', verdict: 'fronted', text: `this server answers for ${domain} toward other servers; its stanzas go on to its own server`, rule: `s2s.peering["${domain}"].front` }));
  const steps = [
    step('relay', relay),
    ...fronting,
    step('connection', policy.connection({ domain: fromDomain, direction: 'in' })),
    levelStep(policy, fromDomain),
    step('route', policy.route(toDomain)),
    step('connection', policy.connection({ domain: toDomain, direction: 'out' })),
    levelStep(policy, toDomain),
  ];
  if (stanza === undefined) return { direction: 'relay', from: fromDomain, to: toDomain, steps };
  const coming = judgeStanza(policy, addressedCopy(stanza, from, to), 'in');
  if (coming.crossed === undefined) return { direction: 'relay', from: fromDomain, to: toDomain, steps, stanza: coming.explanation };
  const going = judgeStanza(policy, coming.crossed, 'out');
  return { direction: 'relay', from: fromDomain, to: toDomain, steps, stanza: { ...going.explanation, checks: [...coming.explanation.checks, ...going.explanation.checks] } };
}

function addressedCopy(stanza: Element, from: string, to: string): Element {
  const addressed = stanza.clone();
  addressed.attrs.from = from;
  addressed.attrs.to = to;
  return addressed;
}

function explainStanza(policy: PolicySnapshot, stanza: Element, direction: 'in' | 'out', from: string, to: string): StanzaExplanation {
  return judgeStanza(policy, addressedCopy(stanza, from, to), direction).explanation;
}

/** The checks of a crossing on an addressed stanza: what they say, and the stanza that crosses (undefined when refused or dropped). */
function judgeStanza(policy: PolicySnapshot, addressed: Element, direction: 'in' | 'out'): { explanation: StanzaExplanation; crossed: Element | undefined } {
  const { verdict, steps } = policy.stanzaCrossing(addressed, { direction, from: parseJid(addressed.attrs.from!), to: parseJid(addressed.attrs.to!) }, true);
  if (verdict.kind === 'reject') return { explanation: { checks: steps, crossing: undefined, bounce: verdict.silent ? undefined : `${verdict.condition}: ${verdict.text}` }, crossed: undefined };
  const crossed = verdict.kind === 'transform' ? verdict.stanza : addressed;
  return { explanation: { checks: steps, crossing: serialize(crossed), bounce: undefined }, crossed };
}

/** The explanation as lines for a terminal. */
export function formatExplanation(explanation: Explanation): string {
  if (explanation.direction === 'none') return `${explanation.reason}\n`;
  let heading: string;
  if (explanation.direction === 'relay') heading = `${explanation.from} -> ${explanation.to}: relayed, neither domain is hosted here`;
  else if (explanation.direction === 'out') heading = `${explanation.local} -> ${explanation.remote}: outgoing, ${explanation.remote} is a remote domain`;
  else heading = `${explanation.remote} -> ${explanation.local}: incoming from the remote domain ${explanation.remote}`;
  const width = Math.max(...explanation.steps.map((entry) => entry.question.length));
  const verdictWidth = Math.max(...explanation.steps.map((entry) => entry.verdict.length));
  const lines = explanation.steps.map((entry) => `  ${entry.question.padEnd(width)}  ${entry.verdict.padEnd(verdictWidth)}  ${entry.text}  [${entry.rule}]`);
  return `${heading}\n${lines.join('\n')}\n${explanation.stanza ? formatStanza(explanation.stanza) : ''}`;
}

function formatStanza(stanza: StanzaExplanation): string {
  const checks = stanza.checks.length === 0 ? ['  (no check of s2s.peering applies)'] : stanza.checks.map((entry) => `  ${entry.check.padEnd(18)}  ${entry.outcome.padEnd(9)}  ${entry.text}  [${entry.rule}]`);
  let outcome: string;
  if (stanza.crossing !== undefined) outcome = `crosses as:\n  ${stanza.crossing}`;
  else if (stanza.bounce !== undefined) outcome = `refused; the sender gets ${stanza.bounce}`;
  else outcome = 'dropped; the sender gets nothing';
  return `checks on the stanza:\n${checks.join('\n')}\n${outcome}\n`;
}

function routeKind(via: NextHop): string {
  if (via.kind === 'direct') return 'route (direct)';
  if (via.kind === 'domain') return `route (via ${via.domain})`;
  if (via.kind === 'link') return `route (link ${via.link})`;
  return `route (via ${via.host}:${via.port})`;
}
