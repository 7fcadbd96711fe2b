/**
 * Security labels (XEP-0258 section 5; docs/labels.md) where no server boundary is crossed:
 * a message between two users of this server (section 5.1, "Use in Instant Messaging": the
 * sender's and the recipient's clearances), and a room of this server's group-chat service with
 * a clearance (section 5.2): whoever enters must be cleared for the room's label, a groupchat
 * message must be within the room's clearance and its sender's, and each occupant gets only the
 * messages its own clearance covers, history too. Private messages through a room are judged as
 * messages between the two users (section 5.2.3).
 */
import type { Jid } from '../jid/jid.ts';
import type { Element } from '../xml/element.ts';
import { NS_SECURITY_LABEL } from '../xml/namespaces.ts';
import { judgeLabelsFor, type LabelJudgement } from './label-checks.ts';
import type { Label, SecurityLabels } from './labels.ts';
import { reject, type StanzaVerdict } from './verdict.ts';

/** A message from one user of this server to another, when `local` is on; undefined when labels are not checked here. */
export function judgeLocalMessage(stanza: Element, from: Jid, to: Jid, labels: SecurityLabels): LabelJudgement | undefined {
  if (!labels.local || stanza.name !== 'message') return undefined;
  return judgeLabelsFor(stanza, labels, {
    direction: 'local',
    parties: [
      { role: 'sender', party: from, clearance: labels.clearanceOf(from) },
      { role: 'recipient', party: to, clearance: labels.clearanceOf(to) },
    ],
    target: labels.governing,
    targetAt: 's2s.security_labels.local',
    passage: `go from ${from.bare().toString()} to ${to.bare().toString()}`,
  });
}

/** Sections 5 and 5.2.5: whoever enters a room must be cleared for its label; undefined when the occupant may enter. */
export function judgeRoomEntry(room: Jid, occupant: Jid, labels: SecurityLabels): (StanzaVerdict & { kind: 'reject' }) | undefined {
  const roomLabel = labels.roomOf(room)?.label;
  if (roomLabel === undefined) return undefined;
  const clearance = labels.clearanceOf(occupant);
  if (labels.governing.grants(clearance.label, roomLabel.label)) return undefined;
  const marking = labels.governing.marking(roomLabel.label);
  const held = clearance.label === undefined ? 'no clearance' : `clearance ${labels.governing.marking(clearance.label)}`;
  return reject(roomLabel.at, 'forbidden', `the room ${room.toString()} is labelled ${marking}, which ${occupant.bare().toString()}'s ${held} does not cover (${roomLabel.at}; ${clearance.at})`, { type: 'auth' });
}

/**
 * Section 5.2.2: a groupchat message to a room with a clearance, judged against the room's
 * clearance and its sender's; the judgement's stanza carries the default label when it had none.
 * Undefined when the room is not label-checked.
 */
export function judgeRoomMessage(stanza: Element, room: Jid, sender: Jid, labels: SecurityLabels): LabelJudgement | undefined {
  const roomLabels = labels.roomOf(room);
  if (roomLabels === undefined) return undefined;
  return judgeLabelsFor(stanza, labels, {
    direction: 'local',
    parties: [
      { role: 'sender', party: sender, clearance: labels.clearanceOf(sender) },
      { role: 'room', party: room, clearance: roomLabels.clearance },
    ],
    target: labels.governing,
    targetAt: roomLabels.clearance.at,
    passage: `go to the room ${room.bare().toString()}`,
  });
}

/**
 * Section 5.2.2: whether an occupant (its real JID) may receive a room's message now, by the
 * effective label of the message as the room sent it; a room without a clearance, or a message
 * without a label in such a room (its label was written when it was sent), imposes nothing.
 */
export function occupantCleared(room: Jid, message: Element, occupant: Jid, labels: SecurityLabels): boolean {
  if (labels.roomOf(room) === undefined) return true;
  const label = messageLabel(message, labels);
  if (label === null) return true;
  return label !== undefined && labels.governing.grants(labels.clearanceOf(occupant).label, label);
}

/** The effective label of a stanza's own `<securitylabel/>`: null without one, undefined when no policy reads it. */
function messageLabel(message: Element, labels: SecurityLabels): Label | null | undefined {
  const securityLabel = message.getChild('securitylabel', NS_SECURITY_LABEL);
  return securityLabel === undefined ? null : labels.effective(securityLabel).label;
}
