/**
 * Invitations to register (XEP-0401 "Account Creation", redeemed by XEP-0445 pre-authenticated
 * in-band registration): an administrator makes a single-use token for a host, optionally for
 * one username, and hands out `xmpp:host?register;preauth=TOKEN` (or `xmpp:user@host?...`). A
 * client that presents the token may register once on that host, even where open registration
 * is off. Tokens live in the server-wide store under `invite:<token>` until used or found
 * expired.
 */
import { randomBytes } from 'node:crypto';
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
}

export interface CreatedInvite extends Invite {
  token: string;
  /** XEP-0445 section 2: the registration URI to hand out */
  uri: string;
}

const keyOf = (token: string): string => `invite:${token}`;

/** When an invitation made now for `days` stops being good. */
export const inviteExpiry = (days: number, now = Date.now()): number => now + days * 86_400_000;
/** Tokens are 24 random bytes, base64url: nothing to guess. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;

export async function createInvite(storage: Storage, invite: Invite): Promise<CreatedInvite> {
  const token = randomBytes(24).toString('base64url');
  await storage.serverData.set(keyOf(token), JSON.stringify(invite));
  const address = invite.username === undefined ? invite.domain : `${invite.username}@${invite.domain}`;
  return { ...invite, token, uri: `xmpp:${address}?register;preauth=${token}` };
}

/**
 * XEP-0445 section 4: the token is good for registering on `domain` now; it stays unused until
 * the registration succeeds. An expired one is removed; unknown, used and expired tokens all
 * get item-not-found, as nobody should learn which.
 */
export async function checkInvite(storage: Storage, domain: string, token: string, now = Date.now()): Promise<Invite> {
  const stored = TOKEN_PATTERN.test(token) ? await storage.serverData.get(keyOf(token)) : undefined;
  const invite = stored === undefined ? undefined : (JSON.parse(stored) as Invite);
  if (invite !== undefined && invite.expires <= now) await storage.serverData.take(keyOf(token));
  if (invite === undefined || invite.domain !== domain || invite.expires <= now) throw new StanzaError('item-not-found', 'this invitation is unknown, used or expired');
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
