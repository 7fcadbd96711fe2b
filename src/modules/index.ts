/** Every feature module by the name operators use in `modules_disabled`. */
import type { ModuleName } from '../config/types.ts';
import type { FeatureModule } from './context.ts';
import { pingModule } from './ping/ping.ts';
import { offlineModule } from './offline/offline.ts';
import { messageModule } from './message/message.ts';

export const FEATURE_MODULES: Partial<Record<ModuleName, FeatureModule>> = {
  ping: pingModule,
  offline: offlineModule,
  message: messageModule,
};
