/**
 * Security labels between users of this server and in its rooms (docs/labels.md, "Between users
 * of this server" and "Rooms"), with the page's example configuration: each clearance that
 * decides, the default label, entering a room, its messages and who receives them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../config/load.ts';
import { parseJid } from '../jid/jid.ts';
import { NS_CLIENT } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { judgeLocalMessage, judgeRoomEntry, judgeRoomMessage, occupantCleared } from './local-labels.ts';
import { PolicySnapshot } from './snapshot.ts';

const DOC = readFileSync(new URL('../../docs/labels.md', import.meta.url), 'utf8');
const EXAMPLE = /```yaml\n# example: labels-local\n([\s\S]*?)```/.exec(DOC)![1]!;
const labels = new PolicySnapshot(parseConfig(EXAMPLE, { baseDir: '/' })).labels!;
const BOARD = parseJid('board@conference.example.com');
const LOBBY = parseJid('lobby@conference.example.com');

const message = (classification?: string, ...categories: string[]) =>
  parseElement(
    `<message type='chat'><body>hi</body>${classification === undefined ? '' : `<securitylabel xmlns='urn:xmpp:sec-label:0'><label><seclabel xmlns='urn:xmpp:trellis:sec-label:0' policy='acme' classification='${classification}'>${categories.map((c) => `<category>${c}</category>`).join('')}</seclabel></label></securitylabel>`}</message>`,
    undefined,
    NS_CLIENT,
  );

function summary(judged: ReturnType<typeof judgeLocalMessage>): string {
  if (judged === undefined) return 'unchecked';
  if (judged.refusal) return `refuse ${judged.refusal.condition} @ ${judged.refusal.rule}: ${judged.refusal.text}`;
  return judged.changedBy.length > 0 ? `labelled ${judged.marking}` : `pass ${judged.marking}`;
}

describe('security labels between users of this server', () => {
  const local = (from: string, to: string, stanza = message()) => summary(judgeLocalMessage(stanza, parseJid(from), parseJid(to), labels));

  test('the sender and the recipient must both be cleared; the refusal names the key of the clearance that decided', () => {
    assert.equal(local('ceo@example.com/desk', 'cfo@example.com', message('confidential', 'finance')), 'pass CONFIDENTIAL FINANCE');
    assert.equal(
      local('ceo@example.com/desk', 'cfo@example.com', message('secret', 'finance')),
      'refuse forbidden @ s2s.security_labels.clearances["cfo@example.com"]: the label SECRET FINANCE is not within the recipient cfo@example.com\'s clearance CONFIDENTIAL FINANCE (s2s.security_labels.clearances["cfo@example.com"])',
    );
    assert.equal(
      local('bob@example.com/desk', 'ceo@example.com', message('confidential')),
      'refuse forbidden @ s2s.security_labels.clearances["*@example.com"]: the label CONFIDENTIAL is not within the sender bob@example.com\'s clearance RESTRICTED (s2s.security_labels.clearances["*@example.com"])',
    );
  });

  test('the page shows the refusal a sender above its clearance gets', () => {
    const judged = judgeRoomMessage(message('secret', 'finance'), BOARD, parseJid('cfo@example.com/desk'), labels)!;
    assert.ok(DOC.includes(`\n${judged.refusal!.text}\n`), judged.refusal!.text);
  });

  test('an unlabelled message gets the default label written into it', () => {
    const judged = judgeLocalMessage(message(), parseJid('bob@example.com/desk'), parseJid('cfo@example.com'), labels)!;
    assert.equal(summary(judged), 'labelled UNCLASSIFIED');
    assert.match(serialize(judged.stanza), /<displaymarking>UNCLASSIFIED<\/displaymarking>/);
  });

  test('with local off (the default) nothing is checked between users of this server', () => {
    const off = new PolicySnapshot(parseConfig(EXAMPLE.replace('local: true', 'local: false'), { baseDir: '/' })).labels!;
    assert.equal(summary(judgeLocalMessage(message('secret'), parseJid('bob@example.com/desk'), parseJid('cfo@example.com'), off)), 'unchecked');
  });
});

describe('security labels in rooms', () => {
  test('entering a room with a label needs a clearance for it', () => {
    assert.equal(judgeRoomEntry(BOARD, parseJid('cfo@example.com/desk'), labels), undefined);
    const refused = judgeRoomEntry(BOARD, parseJid('bob@example.com/desk'), labels)!;
    assert.equal(refused.condition, 'forbidden');
    assert.equal(refused.rule, 's2s.security_labels.rooms["board@conference.example.com"].label');
    assert.match(refused.text, /labelled CONFIDENTIAL, which bob@example\.com's clearance RESTRICTED does not cover .*clearances\["\*@example\.com"\]/);
    // A room without a label, or one no pattern names, is open to anyone.
    assert.equal(judgeRoomEntry(LOBBY, parseJid('bob@example.com/desk'), labels), undefined);
    assert.equal(judgeRoomEntry(parseJid('board@rooms.elsewhere.example'), parseJid('bob@example.com/desk'), labels), undefined);
  });

  test("a groupchat message must be within the room's clearance and its sender's", () => {
    const room = (stanza = message(), from = 'ceo@example.com/desk', at = BOARD) => summary(judgeRoomMessage(stanza, at, parseJid(from), labels));
    assert.equal(room(message('secret', 'finance')), 'pass SECRET FINANCE');
    assert.match(room(message('secret', 'legal')), /^refuse forbidden @ s2s\.security_labels\.rooms\["board@conference\.example\.com"\]\.clearance: the label SECRET LEGAL is not within the room board@conference\.example\.com's clearance SECRET FINANCE/);
    assert.match(room(message('confidential'), 'ceo@example.com/desk', LOBBY), /rooms\["\*@conference\.example\.com"\]\.clearance/);
    assert.equal(room(message(), 'bob@example.com/desk', LOBBY), 'labelled UNCLASSIFIED');
    assert.equal(judgeRoomMessage(message('secret'), parseJid('board@rooms.elsewhere.example'), parseJid('ceo@example.com/desk'), labels), undefined);
  });

  test('each occupant gets only what its clearance covers', () => {
    const secret = judgeRoomMessage(message('secret', 'finance'), BOARD, parseJid('ceo@example.com/desk'), labels)!.stanza;
    assert.equal(occupantCleared(BOARD, secret, parseJid('ceo@example.com/phone'), labels), true);
    assert.equal(occupantCleared(BOARD, secret, parseJid('cfo@example.com/desk'), labels), false);
    const confidential = message('confidential', 'finance');
    assert.equal(occupantCleared(BOARD, confidential, parseJid('cfo@example.com/desk'), labels), true);
    // A room no pattern names imposes nothing.
    assert.equal(occupantCleared(parseJid('board@rooms.elsewhere.example'), secret, parseJid('bob@example.com/desk'), labels), true);
  });
});

describe('security labels: rooms the loader refuses', () => {
  const problems: [string, string, RegExp][] = [
    ['a room clearance with an unknown category', EXAMPLE.replace('clearance: "secret finance" }', 'clearance: "secret hr" }'), /s2s\.security_labels\.rooms\["board@conference\.example\.com"\]\.clearance: "hr" is not a category/],
    ['a room label with an unknown classification', EXAMPLE.replace('label: confidential,', 'label: cosmic,'), /s2s\.security_labels\.rooms\["board@conference\.example\.com"\]\.label: "cosmic" is not a classification/],
    ['a room named by a group', EXAMPLE.replace('"*@conference.example.com": { clearance: restricted }', '"group:board": { clearance: restricted }'), /s2s\.security_labels\.rooms\["group:board"\]: a room is named by its address/],
    ['a room without a clearance', EXAMPLE.replace('"*@conference.example.com": { clearance: restricted }', '"*@conference.example.com": { label: restricted }'), /s2s\.security_labels\.rooms\["\*@conference\.example\.com"\]/],
    ['local that is not a boolean', EXAMPLE.replace('local: true', 'local: sometimes'), /s2s\.security_labels\.local/],
  ];
  for (const [name, yaml, message] of problems) {
    test(name, () => assert.throws(() => parseConfig(yaml, { baseDir: '/' }), message));
  }
});
