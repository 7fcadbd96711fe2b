/**
 * Ad-hoc commands (XEP-0050) on each host: the service administration commands (XEP-0133) for
 * the host's `admins` (the top-level list and the host's own).
 */
import type { FeatureModule } from '../context.ts';
import { adminCommands } from './admin-commands.ts';
import { serveCommands } from './commands.ts';

export const adhocModule: FeatureModule = (context) => {
  const { host } = context;
  serveCommands(host, adminCommands(context), (requester) => host.config.admins.includes(requester.bare().toString()));
};
