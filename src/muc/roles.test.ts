import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StanzaError } from '../xml/stanza-error.ts';
import { checkAffiliationChange, checkRoleChange, defaultRole, type Affiliation, type Role } from './roles.ts';

const refusal = (run: () => void): string | undefined => {
  try {
    run();
    return undefined;
  } catch (error) {
    assert.ok(error instanceof StanzaError);
    return error.condition;
  }
};

test('XEP-0045 section 5.1.2: the role on entering follows the affiliation and moderation', () => {
  const table: [Affiliation, boolean, Role][] = [
    ['owner', false, 'moderator'],
    ['admin', true, 'moderator'],
    ['member', true, 'participant'],
    ['none', false, 'participant'],
    ['none', true, 'visitor'],
    ['outcast', false, 'none'],
  ];
  for (const [affiliation, moderated, role] of table) assert.equal(defaultRole(affiliation, moderated), role, `${affiliation} moderated=${moderated}`);
});

test('sections 8 and 9: who may change whose role', () => {
  const moderator = { affiliation: 'none' as const, role: 'moderator' as const };
  const admin = { affiliation: 'admin' as const, role: 'moderator' as const };
  const owner = { affiliation: 'owner' as const, role: 'moderator' as const };
  const participant = { affiliation: 'none' as const, role: 'participant' as const };
  const member = { affiliation: 'member' as const, role: 'participant' as const };
  assert.equal(refusal(() => checkRoleChange(moderator, participant, 'none')), undefined, 'a moderator kicks a participant');
  assert.equal(refusal(() => checkRoleChange(moderator, participant, 'visitor')), undefined, 'and revokes voice');
  assert.equal(refusal(() => checkRoleChange(participant, moderator, 'none')), 'forbidden', 'a participant kicks nobody');
  assert.equal(refusal(() => checkRoleChange(moderator, member, 'none')), 'not-allowed', 'a moderator without affiliation does not act on a member');
  assert.equal(refusal(() => checkRoleChange(moderator, participant, 'moderator')), 'not-allowed', 'only admins grant moderator');
  assert.equal(refusal(() => checkRoleChange(admin, participant, 'moderator')), undefined);
  assert.equal(refusal(() => checkRoleChange(admin, owner, 'none')), 'not-allowed', 'an owner is never kicked');
  assert.equal(refusal(() => checkRoleChange(owner, admin, 'participant')), 'not-allowed', 'an admin keeps moderator');
});

test('sections 9 and 10: who may change affiliations', () => {
  assert.equal(refusal(() => checkAffiliationChange('owner', 'admin', 'none')), undefined);
  assert.equal(refusal(() => checkAffiliationChange('admin', 'none', 'outcast')), undefined);
  assert.equal(refusal(() => checkAffiliationChange('admin', 'member', 'none')), undefined);
  assert.equal(refusal(() => checkAffiliationChange('admin', 'none', 'admin')), 'not-allowed');
  assert.equal(refusal(() => checkAffiliationChange('admin', 'owner', 'outcast')), 'not-allowed');
  assert.equal(refusal(() => checkAffiliationChange('member', 'none', 'member')), 'forbidden');
});
