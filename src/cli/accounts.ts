/** Account commands: adduser, passwd, deluser, invite, invites. Passwords become SCRAM verifiers (never stored). */
import { makeStoredCredentials } from '../auth/scram.ts';
import type { TrellisConfig } from '../config/types.ts';
import { parseJid, type Jid } from '../jid/jid.ts';
import { openStorage } from '../storage/open.ts';
import { AccountExistsError, type Storage } from '../storage/types.ts';
import { readPassword } from './password.ts';
import { AdminApiError, AdminUnavailableError, adminJson } from '../admin/client.ts';
import { createInvite, inviteExpiry, listInvites, revokeInvite } from '../modules/register/invites.ts';
import { INVITE_PAGE_PATH } from '../modules/register/invite-page.ts';
import { httpBaseUrl } from '../net/http-listener.ts';

export async function addUser(config: TrellisConfig, input: string, password: string | undefined): Promise<number> {
  const jid = accountJid(config, input);
  const secret = password ?? (await readPassword(`Password for ${jid}: `, true));
  return withStorage(config, async (storage) => {
    try {
      await storage.accounts.create(jid.domain, jid.local!, makeStoredCredentials(secret, config.c2s.scram_iterations));
    } catch (error) {
      if (error instanceof AccountExistsError) {
        process.stderr.write(`trellis: ${jid} already exists (use: trellis passwd ${jid})\n`);
        return 1;
      }
      throw error;
    }
    process.stdout.write(`created ${jid}\n`);
    return 0;
  });
}

export async function changePassword(config: TrellisConfig, input: string, password: string | undefined): Promise<number> {
  const jid = accountJid(config, input);
  const secret = password ?? (await readPassword(`New password for ${jid}: `, true));
  return withStorage(config, async (storage) => {
    if (!(await storage.accounts.setCredentials(jid.domain, jid.local!, makeStoredCredentials(secret, config.c2s.scram_iterations)))) {
      process.stderr.write(`trellis: no account ${jid}\n`);
      return 1;
    }
    process.stdout.write(`password changed for ${jid}\n`);
    return 0;
  });
}

/**
 * Deletes through the running server when one answers, so that the account's live sessions end
 * (<not-authorized/>, src/admin/operator-routes.ts); else in storage directly.
 */
export async function deleteUser(config: TrellisConfig, input: string): Promise<number> {
  const jid = accountJid(config, input);
  if (config.admin.enabled) {
    try {
      const answer = await adminJson<{ deleted: string; sessionsEnded: number }>(config.admin.socket, 'DELETE', `/v1/accounts/${encodeURIComponent(jid.toString())}`);
      process.stdout.write(`deleted ${answer.deleted}${answer.sessionsEnded > 0 ? `; ${answer.sessionsEnded} session${answer.sessionsEnded === 1 ? '' : 's'} ended` : ''}\n`);
      return 0;
    } catch (error) {
      if (error instanceof AdminApiError && error.status === 404) {
        process.stderr.write(`trellis: ${error.message}\n`);
        return 1;
      }
      if (!(error instanceof AdminUnavailableError)) throw error;
    }
  }
  return withStorage(config, async (storage) => {
    if (!(await storage.accounts.delete(jid.domain, jid.local!))) {
      process.stderr.write(`trellis: no account ${jid}\n`);
      return 1;
    }
    process.stdout.write(`deleted ${jid}\n`);
    return 0;
  });
}

/**
 * `trellis invite DOMAIN|JID [--expires DAYS]`: an invitation to register one account on a
 * hosted domain (XEP-0401, XEP-0445), for the username the JID names or any; printed as the
 * URI to hand out, with its web page. Good for `registration.invite_days` unless --expires says otherwise.
 */
export async function inviteUser(config: TrellisConfig, input: string, expiresDays: string | undefined): Promise<number> {
  const jid = parseJid(input);
  if (jid.resource !== undefined) throw new Error(`${input} names a resource; invite a domain (example.com) or an account (juliet@example.com)`);
  const host = hostedDomain(config, jid.domain);
  const days = expiresDays === undefined ? host.registration.invite_days : Number(expiresDays);
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new Error(`--expires must be a number of days from 1 to 365, got ${expiresDays}`);
  return withStorage(config, async (storage) => {
    if (jid.local !== undefined && (await storage.accounts.get(jid.domain, jid.local)) !== undefined) {
      process.stderr.write(`trellis: ${jid} already exists\n`);
      return 1;
    }
    const invite = await createInvite(storage, { domain: jid.domain, ...(jid.local === undefined ? {} : { username: jid.local }), expires: inviteExpiry(days) });
    process.stdout.write(`${invite.uri}\n`);
    process.stderr.write(`good until ${new Date(invite.expires).toISOString()}, for one registration${jid.local === undefined ? '' : ` as ${jid}`}\n`);
    // Its landing page, where the server has an HTTP listener (docs/admin-commands.md, "Invitations").
    if (config.http.enabled && config.mode !== 'edge') process.stderr.write(`page: ${httpBaseUrl(config.http, jid.domain)}${INVITE_PAGE_PATH}${invite.token}\n`);
    return 0;
  });
}

/**
 * `trellis invites list [DOMAIN]`: the invitations still good, one a line: token, domain, what it
 * does, and until when (docs/admin-commands.md, "Invitations"). Expired ones are removed.
 */
export async function listInvitations(config: TrellisConfig, domain: string | undefined): Promise<number> {
  const only = domain === undefined ? undefined : hostedDomain(config, parseJid(domain).domain).domain;
  return withStorage(config, async (storage) => {
    for (const invite of await listInvites(storage)) {
      if (only !== undefined && invite.domain !== only) continue;
      const does =
        invite.inviter === undefined
          ? `register${invite.username === undefined ? '' : ` ${invite.username}@${invite.domain}`}`
          : `contact of ${invite.inviter}${invite.contactOnly ? '' : ', may register'}`;
      process.stdout.write(`${invite.token}\t${invite.domain}\t${does}\t${new Date(invite.expires).toISOString()}\n`);
    }
    return 0;
  });
}

/** `trellis invites revoke TOKEN|LINK`: withdraws an invitation, named by its token, its xmpp: link or its page. */
export async function revokeInvitation(config: TrellisConfig, input: string): Promise<number> {
  const token = /(?:preauth=|\/invite\/)([A-Za-z0-9_-]+)/.exec(input)?.[1] ?? input;
  return withStorage(config, async (storage) => {
    const invite = await revokeInvite(storage, token);
    if (invite === undefined) {
      process.stderr.write(`trellis: no invitation ${token}\n`);
      return 1;
    }
    process.stdout.write(`revoked the invitation ${token} (${invite.domain}${invite.inviter === undefined ? '' : `, from ${invite.inviter}`})\n`);
    return 0;
  });
}

/** `trellis users list [DOMAIN]`: the accounts of one hosted domain or of all, one JID a line, from storage. */
export async function listUsers(config: TrellisConfig, domain: string | undefined): Promise<number> {
  const domains = domain === undefined ? config.hosts.map((host) => host.domain) : [hostedDomain(config, parseJid(domain).domain).domain];
  return withStorage(config, async (storage) => {
    for (const name of domains) for (const username of await storage.accounts.list(name)) process.stdout.write(`${username}@${name}\n`);
    return 0;
  });
}

/** A bare JID with a localpart on a hosted domain, or an error that says which part is wrong. */
function accountJid(config: TrellisConfig, input: string): Jid {
  const jid = parseJid(input);
  if (jid.local === undefined || jid.resource !== undefined) throw new Error(`${input} is not an account address (expected user@domain)`);
  hostedDomain(config, jid.domain);
  return jid;
}

/** The host configured for a (prepared) domain, or an error that lists the hosted ones. */
export function hostedDomain(config: TrellisConfig, domain: string): TrellisConfig['hosts'][number] {
  const host = config.hosts.find((candidate) => candidate.domain === domain);
  if (!host) throw new Error(`${domain} is not a hosted domain (hosts: ${config.hosts.map((candidate) => candidate.domain).join(', ')})`);
  return host;
}

async function withStorage(config: TrellisConfig, action: (storage: Storage) => Promise<number>): Promise<number> {
  const storage = await openStorage(config.storage, config.data_dir);
  try {
    return await action(storage);
  } finally {
    await storage.close();
  }
}
