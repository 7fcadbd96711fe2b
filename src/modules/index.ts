/** Every feature module by the name operators use in `modules_disabled`. */
import type { ModuleName } from '../config/types.ts';
import type { FeatureModule } from './context.ts';
import { pingModule } from './ping/ping.ts';
import { presenceModule } from './presence/presence.ts';
import { rosterModule } from './roster/roster.ts';
import { offlineModule } from './offline/offline.ts';
import { messageModule } from './message/message.ts';

export const FEATURE_MODULES: Partial<Record<ModuleName, FeatureModule>> = {
  ping: pingModule,
  presence: presenceModule,
  roster: rosterModule,
  offline: offlineModule,
  message: messageModule,
};
