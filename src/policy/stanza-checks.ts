/**
 * The stanza checks and actions of a peering rule, applied to one stanza that crosses to or from
 * a remote domain (docs/peering.md, "Checks and actions"), in this order: stanza kinds, who may
 * send to whom, blocked traffic classes, dropped message types, folding, then the size of what
 * would cross. Each check that applies gives a step with its key path; the first refusal ends
 * the judgement. Errors and IQ results always cross: they answer something that crossed, and an
 * error is never answered (RFC 6120 section 8.3.1).
 *
 * The steps of checks that passed are written only when the judgement is explained (`trellis
 * policy explain`): their texts would otherwise be built for every stanza that crosses, as
 * `explain && text` leaves them unbuilt.
 */
import type { Jid } from '../jid/jid.ts';
import type { Element } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import type { StanzaErrorCondition, StanzaErrorType } from '../xml/stanza-error.ts';
import { droppedType, foldMessage, foldPresence, type Folded } from './folding.ts';
import type { JidPattern } from '../config/jid-pattern.ts';
import { JidPatternList } from './jid-rules.ts';
import type { CheckKey, DomainChecks } from './peering-checks.ts';
import { blockedClass, CLASS_NAMES } from './traffic-classes.ts';
import { proceed, reject, type StanzaVerdict } from './verdict.ts';

/** A stanza crossing: out to a remote domain, or in from one. */
export interface Crossing {
  direction: 'in' | 'out';
  from: Jid;
  to: Jid;
}

/** One check's answer: it passed, it changed the stanza, it dropped it, or it refused it. */
export interface CheckStep {
  check: CheckKey | 'errors' | 'labels';
  outcome: 'pass' | 'transform' | 'drop' | 'refuse';
  text: string;
  rule: string;
}

export interface StanzaJudgement {
  verdict: StanzaVerdict;
  steps: readonly CheckStep[];
  /** the display marking of the stanza's effective security label (label-checks.ts), for the audit trail */
  label?: string;
}

type Refusal = { condition: StanzaErrorCondition; type: StanzaErrorType; text: string };

/** The address lists, in the order they are checked: whose address each reads, and whether it lists who may (or who may not). */
const ADDRESS_LISTS = [
  ['deny_senders', 'sender', false],
  ['senders', 'sender', true],
  ['deny_recipients', 'recipient', false],
  ['recipients', 'recipient', true],
] as const;

/**
 * Judges `stanza` against the checks of its remote domain; `groups` are the compiled peering
 * groups. `explain`: the steps include the checks that passed.
 */
export function judgeStanza(stanza: Element, crossing: Crossing, checks: DomainChecks, groups: ReadonlyMap<string, readonly JidPattern[]>, explain = false): StanzaJudgement {
  const steps: CheckStep[] = [];
  const type = stanza.attrs.type;
  if (type === 'error' || (stanza.name === 'iq' && type === 'result')) {
    if (explain) steps.push({ check: 'errors', outcome: 'pass', text: 'errors and IQ results always cross', rule: 's2s.peering' });
    return { verdict: proceed('s2s.peering', 'errors and IQ results always cross'), steps };
  }
  const silent = checks.refusal?.value === 'drop';
  const refuse = (check: CheckKey, at: string, refusal: Refusal): StanzaJudgement => {
    const text = `${refusal.text} (${at}${silent ? `; ${checks.refusal!.at} = drop` : ''})`;
    steps.push({ check, outcome: 'refuse', text, rule: at });
    return { verdict: reject(at, refusal.condition, text, { type: refusal.type, silent }), steps };
  };
  const drop = (check: CheckKey, at: string, reason: string): StanzaJudgement => {
    steps.push({ check, outcome: 'drop', text: reason, rule: at });
    return { verdict: reject(at, 'policy-violation', `${reason} (${at})`, { silent: true }), steps };
  };
  /** the key path of the last check that applied: the rule of a stanza that passes them all */
  let lastRule: string | undefined;
  /** `text` is false when not explaining */
  const pass = (check: CheckKey, at: string, text: string | false) => {
    lastRule = at;
    if (text !== false) steps.push({ check, outcome: 'pass', text, rule: at });
  };
  const kind = stanza.name as 'message' | 'presence' | 'iq';

  if (checks.stanza_kinds) {
    const { value, at } = checks.stanza_kinds;
    // RFC 6120 section 8.3.3.12: a stanza that breaks local service policy.
    if (!value.includes(kind)) return refuse('stanza_kinds', at, { condition: 'policy-violation', type: 'cancel', text: `${kind} stanzas do not cross to or from ${remoteOf(crossing)}` });
    pass('stanza_kinds', at, explain && `${kind} is allowed`);
  }

  for (const [key, role, allowList] of ADDRESS_LISTS) {
    const setting = checks[key];
    if (!setting) continue;
    const list = patternList(setting.value, groups);
    const party = role === 'sender' ? crossing.from : crossing.to;
    const index = list.indexOf(party);
    if (allowList === (index < 0)) {
      // RFC 6120 section 8.3.3.5 / 8.3.3.10: the sender lacks the permission; the recipient may not be reached.
      const condition = role === 'sender' ? 'forbidden' : 'not-allowed';
      const why = allowList ? `is not among ${key}` : `matches ${JSON.stringify(list.written(index))}`;
      return refuse(key, allowList ? setting.at : `${setting.at}[${index}]`, { condition, type: condition === 'forbidden' ? 'auth' : 'cancel', text: `the ${role} ${party.bare().toString()} ${why} for ${remoteOf(crossing)}` });
    }
    pass(key, allowList ? `${setting.at}[${index}]` : setting.at, explain && (allowList ? `the ${role} matches ${JSON.stringify(list.written(index))}` : `the ${role} matches none`));
  }

  if (checks.block) {
    const { value, at } = checks.block;
    const blocked = blockedClass(stanza, value);
    if (blocked !== undefined) return refuse('block', at, { condition: 'policy-violation', type: 'cancel', text: `${CLASS_NAMES[blocked]} may not cross to or from ${remoteOf(crossing)}` });
    pass('block', at, explain && `none of ${value.join(', ') || 'nothing'} found`);
  }

  let current = stanza;
  let changed = false;
  const apply = (check: CheckKey, at: string, folded: Folded): StanzaJudgement | undefined => {
    if (folded.kind === 'dropped') return drop(check, at, `the message was dropped: ${folded.reason}`);
    if (folded.kind === 'same') return void pass(check, at, explain && 'nothing to fold');
    steps.push({ check, outcome: 'transform', text: folded.removed.join(', '), rule: at });
    current = folded.stanza;
    changed = true;
    return undefined;
  };

  if (kind === 'message') {
    if (checks.drop_message_types) {
      const { value, at } = checks.drop_message_types;
      const dropped = droppedType(current, value);
      if (dropped !== undefined) return drop('drop_message_types', at, `messages of type ${dropped} are dropped`);
      pass('drop_message_types', at, explain && `type ${current.attrs.type ?? 'normal'} is not dropped`);
    }
    const strip = checks.strip_elements;
    const chatStates = checks.drop_chat_states;
    if (strip) {
      const ended = apply('strip_elements', strip.at, foldMessage(current, { strip: strip.value, dropChatStates: false }));
      if (ended) return ended;
    }
    if (chatStates?.value) {
      const ended = apply('drop_chat_states', chatStates.at, foldMessage(current, { strip: [], dropChatStates: true }));
      if (ended) return ended;
    }
    if (checks.max_message_bytes && checks.max_message_bytes.value > 0) {
      const { value, at } = checks.max_message_bytes;
      const size = Buffer.byteLength(serialize(current));
      // RFC 6120 section 8.3.3.12, of type modify: a shorter message would cross.
      if (size > value) return refuse('max_message_bytes', at, { condition: 'policy-violation', type: 'modify', text: `the message is ${size} bytes where at most ${value} cross to or from ${remoteOf(crossing)}` });
      pass('max_message_bytes', at, explain && `${size} bytes, at most ${value}`);
    }
  }

  if (kind === 'presence' && checks.fold_presence) {
    const ended = apply('fold_presence', checks.fold_presence.at, foldPresence(current, checks.fold_presence.value));
    if (ended) return ended;
  }

  if (changed) {
    const rule = steps.filter((step) => step.outcome === 'transform').map((step) => step.rule).join(', ');
    return { verdict: { kind: 'transform', rule, stanza: current, text: `folded for ${remoteOf(crossing)}` }, steps };
  }
  return { verdict: proceed(lastRule ?? 's2s.peering', lastRule === undefined ? 'no check applies' : 'every check passed'), steps };
}

/** Lists compiled once per written list (each snapshot has its own lists and groups). */
const compiledLists = new WeakMap<readonly string[], JidPatternList>();

function patternList(written: readonly string[], groups: ReadonlyMap<string, readonly JidPattern[]>): JidPatternList {
  let list = compiledLists.get(written);
  if (!list) compiledLists.set(written, (list = new JidPatternList(written, groups)));
  return list;
}

function remoteOf(crossing: Crossing): string {
  return crossing.direction === 'out' ? crossing.to.domain : crossing.from.domain;
}
