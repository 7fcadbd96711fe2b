/**
 * Invitations, each a single-use token:
 * - to register (XEP-0401 "Account Creation", redeemed by XEP-0445 pre-authenticated in-band
 *   registration): an administrator makes one for a host, optionally for one username, and hands
 *   out `xmpp:host?register;preauth=TOKEN` (or `xmpp:user@host?...`). A client that presents the
 *   token may register once on that host, even where open registration is off;
 * - from an account (XEP-0401 "Contact Invitation", XEP-0379): `xmpp:user@host?roster;preauth=TOKEN`
 *   makes whoever redeems it the inviter's contact, by a subscription request carrying the token
 *   or, with `;ibr=y`, by registering an account here with it.
 * Tokens live in the server-wide store under `invite:<token>` until used or found expired; an
 * account's own invitations are also listed in its data under the same key, which bounds how many
 * it may hold and goes with the account.
 */
import { randomBytes } from 'node:crypto';
import type { Jid } from '../../jid/jid.ts';
import type { Storage } from '../../storage/types.ts';
import { StanzaError } from '../../xml/stanza-error.ts';

/** XEP-0445 section 3: the stream feature, and the pre-authentication request's namespace. */
export const NS_IBR_TOKEN = 'urn:xmpp:ibr-token:0';
export const NS_PARS = 'urn:xmpp:pars:0';

export interface Invite {
  domain: string;
  /** the only username it registers, when the administrator chose one */
  username?: string;
  /** milliseconds since the epoch */
  expires: number;
  /** the bare JID of the account that invited: whoever redeems it becomes its contact (XEP-0379) */
  inviter?: string;
  /** an invitation to become a contact only: it registers no account */
  contactOnly?: boolean;
}

/** How many invitations one account may hold unused; making one drops its expired ones first. */
export const MAX_INVITES_PER_ACCOUNT = 20;

export interface CreatedInvite extends Invite {
  token: string;
  /** XEP-0445 section 2: the registration URI to hand out */
  uri: string;
}

const INVITE_PREFIX = 'invite:';
const keyOf = (token: string): string => `${INVITE_PREFIX}${token}`;

/** When an invitation made now for `days` stops being good. */
export const inviteExpiry = (days: number, now = Date.now()): number => now + days * 86_400_000;
/** Tokens are 24 random bytes, base64url: nothing to guess. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;

export async function createInvite(storage: Storage, invite: Invite): Promise<CreatedInvite> {
  const token = randomBytes(24).toString('base64url');
  await storage.serverData.set(keyOf(token), JSON.stringify(invite));
  return { ...invite, token, uri: inviteUri(invite, token) };
}

/** The `xmpp:` URI to hand out for an invitation. */
export function inviteUri(invite: Invite, token: string): string {
  if (invite.inviter !== undefined) {
    // XEP-0401 section 4 and XEP-0379 section 3.2: the inviter's address with the roster action; `ibr=y` when it also registers.
    return `xmpp:${invite.inviter}?roster;preauth=${token}${invite.contactOnly ? '' : ';ibr=y'}`;
  }
  const address = invite.username === undefined ? invite.domain : `${invite.username}@${invite.domain}`;
  return `xmpp:${address}?register;preauth=${token}`;
}

/** The invitation a token stands for while it is good: unused, unexpired, and still its inviter's. */
export async function findInvite(storage: Storage, token: string, now = Date.now()): Promise<Invite | undefined> {
  const invite = await readInvite(storage, token);
  return invite !== undefined && (await isGood(storage, invite, token, now)) ? invite : undefined;
}

/** The invitation stored under a token, whatever its state; undefined for none, or for a token no invitation could have. */
async function readInvite(storage: Storage, token: string): Promise<Invite | undefined> {
  const stored = TOKEN_PATTERN.test(token) ? await storage.serverData.get(keyOf(token)) : undefined;
  return stored === undefined ? undefined : (JSON.parse(stored) as Invite);
}

/** Unexpired, and still its inviter's: not withdrawn, and the account was not deleted meanwhile. */
async function isGood(storage: Storage, invite: Invite, token: string, now: number): Promise<boolean> {
  if (invite.expires <= now) return false;
  if (invite.inviter === undefined) return true;
  const [username, domain] = inviterParts(invite.inviter);
  return (await storage.userData.get(domain, username, keyOf(token))) !== undefined;
}

/** An inviter's bare JID as stored, as the username and domain its user data is kept under. */
function inviterParts(inviter: string): [username: string, domain: string] {
  return inviter.split('@') as [string, string];
}

/**
 * An invitation from `inviter` (bare JID of a local account), good for `days`: to become its
 * contact, and to register here too unless `contactOnly`. Refused with resource-constraint when
 * the account holds MAX_INVITES_PER_ACCOUNT unused ones.
 */
export async function createAccountInvite(storage: Storage, inviter: Jid, days: number, contactOnly: boolean, now = Date.now()): Promise<CreatedInvite> {
  const { domain } = inviter;
  const username = inviter.local!;
  let held = 0;
  for (const key of await storage.userData.keys(domain, username, INVITE_PREFIX)) {
    const expires = Number(await storage.userData.get(domain, username, key));
    if (expires > now) held++;
    else await forget(storage, inviter, key.slice(INVITE_PREFIX.length));
  }
  if (held >= MAX_INVITES_PER_ACCOUNT) throw new StanzaError('resource-constraint', `you hold ${held} unused invitations, the most allowed; wait for one to be used or to expire`, 'wait');
  const invite = await createInvite(storage, { domain, expires: inviteExpiry(days, now), inviter: inviter.toString(), ...(contactOnly ? { contactOnly } : {}) });
  await storage.userData.set(domain, username, keyOf(invite.token), String(invite.expires));
  return invite;
}

/**
 * XEP-0379 section 3.5: a subscription request to `user` carrying `token` is approved when the
 * token is one of the user's own invitations, unused and unexpired; it is used up then. Any
 * other token is not the server's to judge (a client may have issued it): false, and the
 * request goes on as any other.
 */
export async function takeContactInvite(storage: Storage, user: Jid, token: string, now = Date.now()): Promise<boolean> {
  const invite = await readInvite(storage, token);
  if (invite?.inviter === undefined || invite.inviter !== user.bare().toString()) return false;
  if (!(await isGood(storage, invite, token, now))) {
    await forget(storage, user, token);
    return false;
  }
  if ((await storage.serverData.take(keyOf(token))) === undefined) return false;
  await storage.userData.delete(user.domain, user.local!, keyOf(token));
  return true;
}

export interface ListedInvite extends Invite {
  token: string;
}

/**
 * Every invitation still good, soonest to expire first (`trellis invites list`); expired ones,
 * and those of accounts deleted meanwhile, are removed on the way.
 */
export async function listInvites(storage: Storage, now = Date.now()): Promise<ListedInvite[]> {
  const listed: ListedInvite[] = [];
  for (const key of await storage.serverData.keys(INVITE_PREFIX)) {
    const token = key.slice(INVITE_PREFIX.length);
    const invite = await readInvite(storage, token);
    if (invite !== undefined && (await isGood(storage, invite, token, now))) listed.push({ ...invite, token });
    else await revokeInvite(storage, token);
  }
  return listed.sort((a, b) => a.expires - b.expires);
}

/** Withdraws an invitation (`trellis invites revoke`): the invitation it was, or undefined when there was none. */
export async function revokeInvite(storage: Storage, token: string): Promise<Invite | undefined> {
  const stored = await storage.serverData.take(keyOf(token));
  if (stored === undefined) return undefined;
  const invite = JSON.parse(stored) as Invite;
  await inviteUsed(storage, invite, token);
  return invite;
}

/** After a registration with an account's invitation: it is no longer the inviter's to hold. */
export async function inviteUsed(storage: Storage, invite: Invite, token: string): Promise<void> {
  if (invite.inviter === undefined) return;
  const [username, domain] = inviterParts(invite.inviter);
  await storage.userData.delete(domain, username, keyOf(token));
}

async function forget(storage: Storage, inviter: Jid, token: string): Promise<void> {
  await storage.serverData.take(keyOf(token));
  await storage.userData.delete(inviter.domain, inviter.local!, keyOf(token));
}

/**
 * XEP-0445 section 4: the token is good for registering on `domain` now; it stays unused until
 * the registration succeeds. An expired one is removed; unknown, used and expired tokens all
 * get item-not-found, as nobody should learn which.
 */
export async function checkInvite(storage: Storage, domain: string, token: string, now = Date.now()): Promise<Invite> {
  const invite = await readInvite(storage, token);
  if (invite !== undefined && invite.expires <= now) await storage.serverData.take(keyOf(token));
  const good = invite !== undefined && invite.domain === domain && !invite.contactOnly && (await isGood(storage, invite, token, now));
  if (!good) throw new StanzaError('item-not-found', 'this invitation is unknown, used or expired');
  return invite;
}

/**
 * Runs `register` with the token taken, so that a second registration racing for it fails;
 * gives the token back when the registration fails (the username was taken, say).
 */
export async function redeemInvite(storage: Storage, token: string, register: () => Promise<void>): Promise<void> {
  const held = await storage.serverData.take(keyOf(token));
  if (held === undefined) throw new StanzaError('item-not-found', 'this invitation was used meanwhile');
  try {
    await register();
  } catch (error) {
    await storage.serverData.set(keyOf(token), held);
    throw error;
  }
}
