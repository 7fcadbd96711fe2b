/**
 * Ad-hoc commands (XEP-0050) on each host: the service administration commands (XEP-0133) for
 * the host's `admins` (the top-level list and the host's own), and the invitation command
 * (XEP-0401) for every account of the host while `registration.user_invites` is not `off`.
 */
import type { Jid } from '../../jid/jid.ts';
import type { FeatureModule } from '../context.ts';
import { adminCommands } from './admin-commands.ts';
import { serveCommands } from './commands.ts';
import { INVITE_NODE, inviteCommand } from './invite-command.ts';

export const adhocModule: FeatureModule = (context) => {
  const { host } = context;
  const isAdmin = (requester: Jid): boolean => host.config.admins.includes(requester.bare().toString());
  const isAccountHere = (requester: Jid): boolean => requester.domain === host.domain && requester.local !== undefined;
  serveCommands(host, [inviteCommand(context), ...adminCommands(context)], (requester, command) =>
    command.node === INVITE_NODE ? isAccountHere(requester) && host.config.registration.user_invites !== 'off' : isAdmin(requester),
  );
};
