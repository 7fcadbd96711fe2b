/**
 * The command an account runs to invite someone (XEP-0401 section 5.1, `urn:xmpp:invite#invite`,
 * the node Prosody's mod_invites_adhoc and Conversations use): one step, answered with the
 * invitation's `xmpp:` URI. Whoever redeems it becomes the account's contact, and may also
 * register here when `registration.user_invites` is `account` (docs/admin-commands.md, "Invitations from accounts").
 */
import { renderForm } from '../../muc/data-form.ts';
import type { ModuleContext } from '../context.ts';
import { INVITE_PAGE_PATH } from '../register/invite-page.ts';
import { createAccountInvite, type CreatedInvite } from '../register/invites.ts';
import type { AdhocCommand, CommandOutcome } from './commands.ts';

export const INVITE_NODE = 'urn:xmpp:invite#invite';

/**
 * XEP-0401 "Creating a User Invitation": the result form of both invitation commands, with the
 * landing page's address when the server has an HTTP listener (src/modules/register/invite-page.ts).
 */
export function invitationResult(invite: CreatedInvite, web: ModuleContext['web']): CommandOutcome {
  const landing = web === undefined ? [] : [{ var: 'landing-url', type: 'text-single' as const, label: 'Invitation page', values: [`${web.baseUrl(invite.domain)}${INVITE_PAGE_PATH}${invite.token}`] }];
  return {
    status: 'completed',
    result: renderForm('result', 'urn:xmpp:invite#invitation', [
      { var: 'uri', type: 'text-single', label: 'Invitation', values: [invite.uri] },
      ...landing,
      { var: 'expire', type: 'text-single', label: 'Good until', values: [new Date(invite.expires).toISOString()] },
    ]),
  };
}

export function inviteCommand({ host, storage, logger, web }: ModuleContext): AdhocCommand {
  return {
    node: INVITE_NODE,
    name: 'Invite',
    start: async (requester) => {
      const { user_invites: offer, invite_days: days } = host.config.registration;
      const invite = await createAccountInvite(storage, requester.bare(), days, offer !== 'account');
      logger.info('invitation created by an account', { user: requester.bare().toString(), registers: offer === 'account' });
      return invitationResult(invite, web);
    },
  };
}
