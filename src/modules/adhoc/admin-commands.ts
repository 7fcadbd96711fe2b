/**
 * Service administration (XEP-0133) for a host's administrators (`admins`), as ad-hoc commands
 * (XEP-0050): add, delete and change accounts, end sessions, count and list users, and announce
 * to everyone online. Each command acts on this host's accounts only. A failure the
 * administrator can mend (a JID on another host, passwords that differ) completes the command
 * with an error note (XEP-0050 section 4.5); an account that exists already is a conflict
 * (XEP-0133 section 5).
 */
import { makeStoredCredentials } from '../../auth/scram.ts';
import { tryParseJid, type Jid } from '../../jid/jid.ts';
import { renderForm, type FormField } from '../../muc/data-form.ts';
import { AccountExistsError } from '../../storage/types.ts';
import { el, NS_CLIENT } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { ModuleContext } from '../context.ts';
import { createInvite, inviteExpiry } from '../register/invites.ts';
import { removeAccount } from '../register/remove-account.ts';
import type { AdhocCommand, CommandOutcome } from './commands.ts';
import { invitationResult } from './invite-command.ts';

/** XEP-0133 section 7: the FORM_TYPE of its forms. */
export const FORM_TYPE_ADMIN = 'http://jabber.org/protocol/admin';
const NODE = `${FORM_TYPE_ADMIN}#`;
/** most characters an announcement may have */
const MAX_ANNOUNCEMENT_CHARS = 10_000;

export function adminCommands(context: ModuleContext): AdhocCommand[] {
  const { host, router, storage, config, logger } = context;
  const domain = host.domain;

  /** The accounts a field names: each must be user@<this host> (with a resource where `resources` allows). */
  const accountsOf = (values: readonly string[] | undefined, resources: boolean): Jid[] | string => {
    const jids: Jid[] = [];
    for (const value of values ?? []) {
      if (value.trim() === '') continue;
      const jid = tryParseJid(value.trim());
      if (!jid || jid.local === undefined || (!resources && jid.resource !== undefined)) return `${JSON.stringify(value)} is not an account (user@${domain})`;
      if (jid.domain !== domain) return `${jid.bare()} is not an account of ${domain}`;
      jids.push(jid);
    }
    return jids.length > 0 ? jids : 'name at least one account';
  };
  /** The one account the `accountjid` field names, or what is wrong with it. */
  const oneAccount = (values: Map<string, string[]>): Jid | string => {
    const accounts = accountsOf(values.get('accountjid')?.slice(0, 1), false);
    return typeof accounts === 'string' ? accounts : accounts[0]!;
  };
  /** That account and the `password` field, or what is wrong with them. */
  const accountAndPassword = (values: Map<string, string[]>): { account: Jid; secret: string } | string => {
    const account = oneAccount(values);
    if (typeof account === 'string') return account;
    const secret = values.get('password')?.[0] ?? '';
    return secret === '' ? 'the password may not be empty' : { account, secret };
  };
  const failed = (text: string): CommandOutcome => ({ status: 'completed', note: { type: 'error', text } });
  const done = (text: string): CommandOutcome => ({ status: 'completed', note: { type: 'info', text } });
  const form = (title: string, fields: FormField[]): CommandOutcome => ({ status: 'executing', form: renderForm('form', FORM_TYPE_ADMIN, fields, title) });
  const result = (fields: FormField[]): CommandOutcome => ({ status: 'completed', result: renderForm('result', FORM_TYPE_ADMIN, fields) });
  const hostSessions = () => [...router.sessions.all()].filter((session) => session.jid.domain === domain);
  const onlineAccounts = (): string[] => [...new Set(hostSessions().map((session) => session.jid.bare().toString()))].sort();
  const password = (name: string, label: string): FormField => ({ var: name, type: 'text-private', label, values: [], required: true });
  const accountField = (label: string): FormField => ({ var: 'accountjid', type: 'jid-single', label, values: [], required: true });
  const accountsField = (label: string): FormField => ({ var: 'accountjids', type: 'jid-multi', label, values: [], required: true });
  const maxItemsField: FormField = {
    var: 'max_items',
    type: 'list-single',
    label: 'Maximum number of items to show',
    values: ['100'],
    options: [...['25', '50', '75', '100', '150', '200'].map((value) => ({ value, label: value })), { value: 'none', label: 'None' }],
  };
  const limited = (values: Map<string, string[]>, jids: string[]): string[] => {
    const max = Number(values.get('max_items')?.[0]);
    return Number.isInteger(max) && max > 0 ? jids.slice(0, max) : jids;
  };

  return [
    // Section 4.1.
    {
      node: `${NODE}add-user`,
      name: 'Add User',
      start: () => form('Adding a User', [accountField('The Jabber ID for the account to be added'), password('password', 'The password for this account'), password('password-verify', 'Retype password')]),
      submit: async (requester, values) => {
        const chosen = accountAndPassword(values);
        if (typeof chosen === 'string') return failed(chosen);
        const { account, secret } = chosen;
        if (values.get('password-verify')?.[0] !== secret) return failed('the two passwords differ');
        try {
          await storage.accounts.create(domain, account.local!, makeStoredCredentials(secret, config.c2s.scram_iterations));
        } catch (error) {
          if (error instanceof AccountExistsError) throw new StanzaError('conflict', `${account} exists already`);
          throw error;
        }
        logger.info('account added by an administrator', { user: account.toString(), admin: requester.bare().toString() });
        return done(`${account} was added`);
      },
    },
    // Section 4.2: the sessions end and everything stored for the accounts goes.
    {
      node: `${NODE}delete-user`,
      name: 'Delete User',
      start: () => form('Deleting a User', [accountsField('The Jabber ID(s) to delete')]),
      submit: async (requester, values) => {
        const accounts = accountsOf(values.get('accountjids'), false);
        if (typeof accounts === 'string') return failed(accounts);
        const deleted: string[] = [];
        const missing: string[] = [];
        for (const account of accounts) {
          if (await removeAccount(context, account, 'this account has been deleted by an administrator')) deleted.push(account.toString());
          else missing.push(account.toString());
        }
        if (deleted.length > 0) logger.info('accounts deleted by an administrator', { users: deleted.join(' '), admin: requester.bare().toString() });
        if (missing.length > 0) return failed(`no such account: ${missing.join(', ')}${deleted.length > 0 ? `; deleted: ${deleted.join(', ')}` : ''}`);
        return done(`deleted: ${deleted.join(', ')}`);
      },
    },
    // Section 4.5: a full JID ends that session, a bare JID every session of the account.
    {
      node: `${NODE}end-user-session`,
      name: 'End User Session',
      start: () => form('Ending a User Session', [accountsField('The Jabber ID(s) for which to end sessions')]),
      submit: (requester, values) => {
        const accounts = accountsOf(values.get('accountjids'), true);
        if (typeof accounts === 'string') return failed(accounts);
        const ended: string[] = [];
        for (const jid of accounts) {
          const sessions = router.sessions.sessionsOf(jid);
          for (const session of sessions) ended.push(session.jid.toString());
          // After the answer is written, should the administrator end their own session.
          setImmediate(() => {
            for (const session of sessions) session.terminate('policy-violation', 'disconnected by the server administrator');
          });
        }
        if (ended.length === 0) return failed('no such session');
        logger.info('sessions ended by an administrator', { sessions: ended.join(' '), admin: requester.bare().toString() });
        return done(`ended: ${ended.join(', ')}`);
      },
    },
    // Section 4.7.
    {
      node: `${NODE}change-user-password`,
      name: 'Change User Password',
      start: () => form('Changing a User Password', [accountField('The Jabber ID for this account'), password('password', 'The password for this account')]),
      submit: async (requester, values) => {
        const chosen = accountAndPassword(values);
        if (typeof chosen === 'string') return failed(chosen);
        const { account, secret } = chosen;
        if (!(await storage.accounts.setCredentials(domain, account.local!, makeStoredCredentials(secret, config.c2s.scram_iterations)))) return failed(`no such account: ${account}`);
        logger.info('password changed by an administrator', { user: account.toString(), admin: requester.bare().toString() });
        return done(`the password of ${account} was changed`);
      },
    },
    // Section 4.10: what the server knows of one account now (no rates: it keeps none per account).
    {
      node: `${NODE}user-stats`,
      name: 'Get User Statistics',
      start: () => form('Getting User Statistics', [accountField('The Jabber ID for statistics')]),
      submit: async (_requester, values) => {
        const account = oneAccount(values);
        if (typeof account === 'string') return failed(account);
        if ((await storage.accounts.get(domain, account.local!)) === undefined) return failed(`no such account: ${account}`);
        const sessions = router.sessions.resourcesOf(account);
        const roster = await storage.rosters.get(domain, account.local!);
        return result([
          { var: 'rostersize', type: 'text-single', label: 'Roster size', values: [String(roster.items.length)] },
          { var: 'onlineresources', type: 'text-multi', label: 'Online resources', values: sessions.map((session) => session.jid.resource ?? '') },
          { var: 'ipaddresses', type: 'text-multi', label: 'IP addresses', values: sessions.map((session) => session.peer) },
        ]);
      },
    },
    // XEP-0401 section 5.2: an invitation to register on this host, for a username or any.
    {
      node: 'urn:xmpp:invite#create-account',
      name: 'Create Account Invitation',
      start: () => form('Inviting Someone to Register', [{ var: 'username', type: 'text-single', label: 'The username to register (empty: the invitee chooses)', values: [] }]),
      submit: async (requester, values) => {
        const chosen = values.get('username')?.[0]?.trim() ?? '';
        let username: string | undefined;
        if (chosen !== '') {
          const accounts = accountsOf([chosen.includes('@') ? chosen : `${chosen}@${domain}`], false);
          if (typeof accounts === 'string') return failed(accounts);
          username = accounts[0]!.local!;
          if ((await storage.accounts.get(domain, username)) !== undefined) return failed(`${username}@${domain} exists already`);
        }
        const invite = await createInvite(storage, { domain, ...(username ? { username } : {}), expires: inviteExpiry(host.config.registration.invite_days) });
        logger.info('invitation created by an administrator', { host: domain, username, admin: requester.bare().toString() });
        return invitationResult(invite, context.web);
      },
    },
    // Sections 4.13 and 4.15: one step, the figure at once. The type is text-single, the default
    // of XEP-0004 section 3.3, written out: COMPAT(Profanity) shows no value of a field without one.
    {
      node: `${NODE}get-registered-users-num`,
      name: 'Get Number of Registered Users',
      start: async () => result([{ var: 'registeredusersnum', type: 'text-single', label: 'The number of registered users', values: [String((await storage.accounts.list(domain)).length)] }]),
    },
    {
      node: `${NODE}get-online-users-num`,
      name: 'Get Number of Online Users',
      start: () => result([{ var: 'onlineusersnum', type: 'text-single', label: 'The number of online users', values: [String(onlineAccounts().length)] }]),
    },
    // Sections 4.18 and 4.20: how many to show first, then the list.
    {
      node: `${NODE}get-registered-users-list`,
      name: 'Get List of Registered Users',
      start: () => form('Requesting List of Registered Users', [maxItemsField]),
      submit: async (_requester, values) => {
        const jids = (await storage.accounts.list(domain)).map((username) => `${username}@${domain}`);
        return result([{ var: 'registereduserjids', type: 'jid-multi', label: 'The list of all users', values: limited(values, jids) }]);
      },
    },
    {
      node: `${NODE}get-online-users-list`,
      name: 'Get List of Online Users',
      start: () => form('Requesting List of Online Users', [maxItemsField]),
      submit: (_requester, values) => result([{ var: 'onlineuserjids', type: 'jid-multi', label: 'The list of all online users', values: limited(values, onlineAccounts()) }]),
    },
    // Section 4.23: a headline from the host to every session of its accounts (not stored for
    // those offline: the announcement is for those online now).
    {
      node: `${NODE}announce`,
      name: 'Send Announcement to Online Users',
      start: () => form('Making an Announcement', [{ var: 'announcement', type: 'text-multi', label: 'Announcement', values: [], required: true }]),
      submit: async (requester, values) => {
        const text = (values.get('announcement') ?? []).join('\n').trim();
        if (text === '') return failed('the announcement is empty');
        if (text.length > MAX_ANNOUNCEMENT_CHARS) return failed(`the announcement is longer than ${MAX_ANNOUNCEMENT_CHARS} characters`);
        const recipients = hostSessions().map((session) => session.jid.toString());
        for (const to of recipients) await router.route(el('message', NS_CLIENT, { from: domain, to, type: 'headline' }, el('body', NS_CLIENT, {}, text)), { kind: 'local' });
        logger.info('announcement sent by an administrator', { sessions: recipients.length, admin: requester.bare().toString() });
        return done(`sent to ${recipients.length} ${recipients.length === 1 ? 'session' : 'sessions'}`);
      },
    },
  ];
}
