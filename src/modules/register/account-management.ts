/**
 * What an authenticated user does with jabber:iq:register (XEP-0077): see the registration,
 * change the password (section 3.3) and remove the account (section 3.2).
 */
import type { Jid } from '../../jid/jid.ts';
import type { IqRequest } from '../../router/host.ts';
import { el, type Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { ModuleContext } from '../context.ts';
import { NS_REGISTER, credentialsOf, usernameOf } from './fields.ts';
import { removeAccount } from './remove-account.ts';

export function enableAccountManagement(context: ModuleContext): void {
  const { host, storage, config, logger } = context;
  /** The requester's own account: a request to the host from another server's user is not ours to answer. */
  const ownAccount = ({ from }: IqRequest): string => {
    if (from.domain !== host.domain || from.local === undefined) throw new StanzaError('not-allowed', 'only accounts of this server can manage their registration here');
    return from.local;
  };

  // Section 3.1: an authenticated entity is told it is registered.
  const get = (request: IqRequest): Element => {
    const username = ownAccount(request);
    return el('query', NS_REGISTER, {}, el('registered', NS_REGISTER), el('username', NS_REGISTER, {}, username), el('password', NS_REGISTER));
  };

  const set = async (request: IqRequest): Promise<undefined> => {
    const username = ownAccount(request);
    if (request.payload.getChild('remove')) return removeOwnAccount(request.from.bare(), request.payload);
    return changePassword(username, request.payload);
  };

  // Section 3.3: the username must be the account's own; an empty password keeps the old one.
  const changePassword = async (username: string, query: Element): Promise<undefined> => {
    if (usernameOf(query, 'bad-request') !== username) throw new StanzaError('forbidden', 'you may change only your own password');
    const credentials = credentialsOf(query, config.c2s.scram_iterations, 'bad-request');
    if (!(await storage.accounts.setCredentials(host.domain, username, credentials))) throw new StanzaError('registration-required');
    logger.info('password changed', { user: `${username}@${host.domain}` });
    return undefined;
  };

  // Section 3.2: delete the account and everything stored for it; the sessions end after the answer.
  const removeOwnAccount = async (account: Jid, query: Element): Promise<undefined> => {
    if (query.elements().length !== 1) throw new StanzaError('bad-request', '<remove/> must be the only child of the query');
    if (!(await removeAccount(context, account, 'this account has been removed'))) throw new StanzaError('registration-required');
    logger.info('account removed by its owner', { user: account.toString() });
    return undefined;
  };

  for (const scope of ['account', 'host'] as const) {
    host.handleIq(scope, 'get', NS_REGISTER, 'query', get);
    host.handleIq(scope, 'set', NS_REGISTER, 'query', set);
  }
}
