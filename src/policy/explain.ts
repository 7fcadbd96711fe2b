/**
 * `trellis policy explain --from A --to B`: what the compiled policy decides for traffic
 * between a hosted domain and a remote one, question by question, each with the key path of
 * the rule that decided. The answers come from the same snapshot the server decides with.
 */
import { parseJid } from '../jid/jid.ts';
import type { PolicySnapshot } from './snapshot.ts';
import type { NextHop, Verdict } from './verdict.ts';

export interface ExplainedStep {
  /** the question: "stanza out", "route", "connection", "level", "pair" */
  question: string;
  verdict: string;
  text: string;
  rule: string;
}

export type Explanation =
  | { direction: 'out' | 'in'; local: string; remote: string; steps: ExplainedStep[] }
  | { direction: 'none'; reason: string };

function step(question: string, verdict: Verdict): ExplainedStep {
  let kind: string = verdict.kind;
  if (verdict.kind === 'reject' || verdict.kind === 'close') kind = `${verdict.kind} (${verdict.condition})`;
  if (verdict.kind === 'route') kind = routeKind(verdict.via);
  return { question, verdict: kind, text: verdict.text, rule: verdict.rule };
}

/** `from` and `to` are JIDs or domains; `hosted` says which domains are served here. Throws on a malformed JID. */
export function explain(policy: PolicySnapshot, hosted: (domain: string) => boolean, from: string, to: string): Explanation {
  const fromDomain = parseJid(from).domain;
  const toDomain = parseJid(to).domain;
  const [fromHosted, toHosted] = [hosted(fromDomain), hosted(toDomain)];
  if (fromHosted && toHosted) return { direction: 'none', reason: `both ${fromDomain} and ${toDomain} are hosted here: stanzas between them never leave this server` };
  if (!fromHosted && !toHosted) return { direction: 'none', reason: `neither ${fromDomain} nor ${toDomain} is hosted here: stanzas between them never pass this server` };
  const [local, remote] = fromHosted ? [fromDomain, toDomain] : [toDomain, fromDomain];
  const required = policy.requirement(remote);
  const level: ExplainedStep = { question: 'level', verdict: required.level, text: `${remote} must reach ${required.level}`, rule: required.rule };
  const pair = step('pair', policy.authenticate({ local, remote }));
  if (fromHosted) {
    return { direction: 'out', local, remote, steps: [step('stanza out', policy.stanzaOut(remote)), step('route', policy.route(remote)), step('connection', policy.connection({ domain: remote, direction: 'out' })), level, pair] };
  }
  return { direction: 'in', local, remote, steps: [step('connection', policy.connection({ domain: remote, direction: 'in' })), level, pair] };
}

/** The explanation as lines for a terminal. */
export function formatExplanation(explanation: Explanation): string {
  if (explanation.direction === 'none') return `${explanation.reason}\n`;
  const heading =
    explanation.direction === 'out'
      ? `${explanation.local} -> ${explanation.remote}: outgoing, ${explanation.remote} is a remote domain`
      : `${explanation.remote} -> ${explanation.local}: incoming from the remote domain ${explanation.remote}`;
  const width = Math.max(...explanation.steps.map((entry) => entry.question.length));
  const verdictWidth = Math.max(...explanation.steps.map((entry) => entry.verdict.length));
  const lines = explanation.steps.map((entry) => `  ${entry.question.padEnd(width)}  ${entry.verdict.padEnd(verdictWidth)}  ${entry.text}  [${entry.rule}]`);
  return `${heading}\n${lines.join('\n')}\n`;
}

function routeKind(via: NextHop): string {
  if (via.kind === 'direct') return 'route (direct)';
  if (via.kind === 'domain') return `route (via ${via.domain})`;
  if (via.kind === 'link') return `route (link ${via.link})`;
  return `route (via ${via.host}:${via.port})`;
}
