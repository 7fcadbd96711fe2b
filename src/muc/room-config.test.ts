import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { readForm } from './data-form.ts';
import { applyConfigForm, configFeatures, configForm, defaultRoomConfig, parseStoredConfig } from './room-config.ts';

const limits = { maxOccupants: 50, maxHistory: 30, maxAffiliations: 100 };

test('the configuration form shows the current values, and a submitted one changes only what it names', () => {
  const config = defaultRoomConfig('plans', 20, limits);
  const shown = readForm(configForm(config, limits));
  assert.deepEqual(shown.get('FORM_TYPE'), ['http://jabber.org/protocol/muc#roomconfig']);
  assert.deepEqual(shown.get('muc#roomconfig_roomname'), ['plans']);
  assert.deepEqual(shown.get('muc#roomconfig_maxusers'), ['50']);
  // XEP-0004 section 3.3: every option of a list carries the text a client shows (Profanity prints "(null)" without one).
  const xml = serialize(configForm(config, limits));
  assert.match(xml, /<option label="Moderators only"><value>moderators<\/value><\/option><option label="Anyone in the room"><value>anyone<\/value><\/option>/);
  assert.match(xml, /<option label="Nobody"><value>none<\/value><\/option>/);
  assert.doesNotMatch(xml, /<option>/, 'no option without a label');
  const next = applyConfigForm(
    config,
    new Map([
      ['muc#roomconfig_persistentroom', ['1']],
      ['muc#roomconfig_membersonly', ['true']],
      ['muc#roomconfig_whois', ['anyone']],
      ['muc#roomconfig_maxusers', ['10']],
      ['muc#roomconfig_passwordprotectedroom', ['1']],
      ['muc#roomconfig_roomsecret', ['s3cret']],
    ]),
    limits,
  );
  assert.deepEqual({ ...next }, { ...config, persistent: true, membersOnly: true, anonymity: 'non', maxUsers: 10, password: 's3cret' });
  assert.deepEqual(configFeatures(next), ['http://jabber.org/protocol/muc', 'muc_public', 'muc_persistent', 'muc_membersonly', 'muc_unmoderated', 'muc_nonanonymous', 'muc_passwordprotected']);
});

test('values beyond the service\'s limits or not understood are not-acceptable', () => {
  const config = defaultRoomConfig('r', 20, limits);
  for (const [field, value] of [['muc#roomconfig_maxusers', '51'], ['muc#maxhistoryfetch', '31'], ['muc#roomconfig_whois', 'everyone'], ['muc#roomconfig_maxusers', 'many']] as const) {
    assert.throws(() => applyConfigForm(config, new Map([[field, [value]]]), limits), (error: unknown) => error instanceof StanzaError && error.condition === 'not-acceptable', `${field}=${value}`);
  }
  assert.throws(() => applyConfigForm(config, new Map([['muc#roomconfig_passwordprotectedroom', ['1']]]), limits), /needs muc#roomconfig_roomsecret/);
});

test('a stored configuration comes back field by field; unknown or mistyped fields take the defaults', () => {
  const defaults = defaultRoomConfig('r', 20, limits);
  const restored = parseStoredConfig(JSON.stringify({ title: 'T', moderated: true, maxUsers: 'lots', unknown: 1 }), defaults);
  assert.deepEqual(restored, { ...defaults, title: 'T', moderated: true });
});
