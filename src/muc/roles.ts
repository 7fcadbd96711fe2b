/**
 * Affiliations and roles (XEP-0045 section 5) and who may change them (sections 5.1.2, 5.2.2,
 * 8 and 9): pure decisions, so the permission tables are tested on their own.
 */
import { StanzaError } from '../xml/stanza-error.ts';

export const AFFILIATIONS = ['owner', 'admin', 'member', 'none', 'outcast'] as const;
export type Affiliation = (typeof AFFILIATIONS)[number];
export const ROLES = ['moderator', 'participant', 'visitor', 'none'] as const;
export type Role = (typeof ROLES)[number];

const AFFILIATION_RANK: Record<Affiliation, number> = { outcast: 0, none: 1, member: 2, admin: 3, owner: 4 };
const ROLE_RANK: Record<Role, number> = { none: 0, visitor: 1, participant: 2, moderator: 3 };

export const isAffiliation = (value: string | undefined): value is Affiliation => (AFFILIATIONS as readonly string[]).includes(value ?? '');
export const isRole = (value: string | undefined): value is Role => (ROLES as readonly string[]).includes(value ?? '');
export const affiliationAtLeast = (affiliation: Affiliation, least: Affiliation): boolean => AFFILIATION_RANK[affiliation] >= AFFILIATION_RANK[least];
export const roleAtLeast = (role: Role, least: Role): boolean => ROLE_RANK[role] >= ROLE_RANK[least];

/** Section 5.1.2: the role an occupant gets on entering, from its affiliation and whether the room is moderated. */
export function defaultRole(affiliation: Affiliation, moderated: boolean): Role {
  if (affiliation === 'owner' || affiliation === 'admin') return 'moderator';
  if (affiliation === 'member') return 'participant';
  if (affiliation === 'none') return moderated ? 'visitor' : 'participant';
  return 'none';
}

export interface Actor {
  affiliation: Affiliation;
  role: Role;
}

/**
 * Sections 8.2 to 8.6 and 9.6, 9.7: may `actor` give the occupant `target` the role `role`?
 * Throws the error the section names when not.
 */
export function checkRoleChange(actor: Actor, target: Actor, role: Role): void {
  if (actor.role !== 'moderator') throw new StanzaError('forbidden', 'only moderators change roles');
  // Sections 9.6 and 9.7: granting or revoking moderator status is for admins and owners.
  if ((role === 'moderator' || target.role === 'moderator') && !affiliationAtLeast(actor.affiliation, 'admin')) {
    throw new StanzaError('not-allowed', 'only admins and owners grant or revoke moderator status');
  }
  // Sections 8.2 and 8.4: admins and owners are moderators; their role is not taken from them,
  // and nobody acts on someone of a higher affiliation.
  if (affiliationAtLeast(target.affiliation, 'admin') && role !== 'moderator') throw new StanzaError('not-allowed', 'admins and owners keep their moderator role');
  if (AFFILIATION_RANK[target.affiliation] > AFFILIATION_RANK[actor.affiliation]) throw new StanzaError('not-allowed', 'that occupant has a higher affiliation than yours');
}

/**
 * Sections 9 and 10.3 to 10.8: may `actor` (an affiliation) change someone's affiliation from
 * `current` to `next`? Owners change any; admins only between member, none and outcast.
 */
export function checkAffiliationChange(actor: Affiliation, current: Affiliation, next: Affiliation): void {
  if (actor === 'owner') return;
  if (actor !== 'admin') throw new StanzaError('forbidden', 'only admins and owners change affiliations');
  if (affiliationAtLeast(current, 'admin') || affiliationAtLeast(next, 'admin')) throw new StanzaError('not-allowed', 'only owners grant or revoke admin and owner affiliations');
}
