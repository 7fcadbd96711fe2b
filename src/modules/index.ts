/** Every feature module by the name operators use in `modules_disabled`. */
import type { ModuleName } from '../config/types.ts';
import type { FeatureModule } from './context.ts';
import { pingModule } from './ping/ping.ts';
import { blockingModule } from './blocking/blocking.ts';
import { discoModule } from './disco/disco.ts';
import { versionModule } from './version/version.ts';
import { vcardModule } from './vcard/vcard.ts';
import { privateModule } from './private/private.ts';
import { registerModule } from './register/register.ts';
import { presenceModule } from './presence/presence.ts';
import { rosterModule } from './roster/roster.ts';
import { offlineModule } from './offline/offline.ts';
import { messageModule } from './message/message.ts';
import { strangersModule } from './strangers/strangers.ts';
import { carbonsModule } from './carbons/carbons.ts';
import { lastActivityModule } from './last/last.ts';
import { timeModule } from './time/time.ts';
import { pepModule } from './pep/pep.ts';
import { mamModule } from './mam/mam.ts';
import { pushModule } from './push/push.ts';
import { extdiscoModule } from './extdisco/extdisco.ts';
import { securityLabelsModule } from './security-labels/catalog.ts';
import { adhocModule } from './adhoc/adhoc.ts';
import { motdModule } from './motd/motd.ts';

export const FEATURE_MODULES: Partial<Record<ModuleName, FeatureModule>> = {
  ping: pingModule,
  blocking: blockingModule,
  disco: discoModule,
  version: versionModule,
  vcard: vcardModule,
  private: privateModule,
  register: registerModule,
  presence: presenceModule,
  roster: rosterModule,
  offline: offlineModule,
  message: messageModule,
  strangers: strangersModule,
  carbons: carbonsModule,
  last: lastActivityModule,
  time: timeModule,
  pep: pepModule,
  mam: mamModule,
  push: pushModule,
  extdisco: extdiscoModule,
  labels: securityLabelsModule,
  adhoc: adhocModule,
  motd: motdModule,
};
