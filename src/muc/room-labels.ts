/**
 * Security labels in this server's rooms (XEP-0258 section 5.2; docs/labels.md, "Rooms"), with
 * the policy in force: who may enter, which groupchat and private messages a room takes, and
 * which occupants get each message and each message of the history. Refusals are recorded in the
 * audit trail as the server crossings' are; `policy` decides (src/policy/local-labels.ts).
 */
import { tryParseJid, type Jid } from '../jid/jid.ts';
import { judgeLocalMessage, judgeRoomEntry, judgeRoomMessage, occupantCleared } from '../policy/local-labels.ts';
import type { LabelJudgement } from '../policy/label-checks.ts';
import { stanzaErrorOf } from '../policy/verdict.ts';
import type { Router } from '../router/router.ts';
import type { Element } from '../xml/element.ts';
import type { StanzaError } from '../xml/stanza-error.ts';

export interface RoomLabelGate {
  /** A refusal for someone (a real JID) who may not enter the room, or undefined. */
  entry(room: Jid, occupant: Jid): StanzaError | undefined;
  /** A groupchat message from an occupant (its real JID): the message to reflect, labelled; a refusal is thrown. */
  groupchat(room: Jid, sender: Jid, stanza: Element): Element;
  /** A private message through the room between two real JIDs, judged as one between them; a refusal is thrown. */
  privateMessage(sender: Jid, recipient: Jid, stanza: Element): Element;
  /** Whether a real full JID may get a message the room sends (live or from its history). */
  cleared(room: Jid, message: Element, occupant: string): boolean;
}

export function roomLabelGate(router: Router): RoomLabelGate {
  const audit = (from: Jid, to: Jid, kind: string, verdict: 'refuse' | 'transform', rule: string, text: string, marking: string | undefined): void => {
    router.policyDecisions?.({ time: Date.now(), rule, verdict, direction: 'local', from: from.toString(), to: to.toString(), kind, ...(marking === undefined ? {} : { label: marking }), text });
  };
  const apply = (judged: LabelJudgement | undefined, stanza: Element, from: Jid, to: Jid): Element => {
    if (judged === undefined) return stanza;
    if (judged.refusal) {
      audit(from, to, stanza.name, 'refuse', judged.refusal.rule, judged.refusal.text, judged.marking);
      throw stanzaErrorOf(judged.refusal);
    }
    if (judged.changedBy.length > 0) audit(from, to, stanza.name, 'transform', judged.changedBy.join(', '), judged.steps.at(-1)?.text ?? 'labelled', judged.marking);
    return judged.stanza;
  };
  return {
    entry(room, occupant) {
      const labels = router.policy.current.labels;
      const refusal = labels && judgeRoomEntry(room, occupant, labels);
      if (!refusal) return undefined;
      audit(occupant, room, 'presence', 'refuse', refusal.rule, refusal.text, undefined);
      return stanzaErrorOf(refusal);
    },
    groupchat(room, sender, stanza) {
      const labels = router.policy.current.labels;
      return apply(labels && judgeRoomMessage(stanza, room, sender, labels), stanza, sender, room);
    },
    privateMessage(sender, recipient, stanza) {
      const labels = router.policy.current.labels;
      // Section 5.2.3: as messages between the two users, where those are checked.
      return apply(labels && judgeLocalMessage(stanza, sender, recipient, labels), stanza, sender, recipient);
    },
    cleared(room, message, occupant) {
      const labels = router.policy.current.labels;
      const jid = tryParseJid(occupant);
      return labels === undefined || (jid !== undefined && occupantCleared(room, message, jid, labels));
    },
  };
}
