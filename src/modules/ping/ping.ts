/** XEP-0199 section 4.2: the server answers a ping addressed to it with an empty result. */
import { NS_PING } from '../../xml/namespaces.ts';
import type { FeatureModule } from '../context.ts';

export const pingModule: FeatureModule = ({ host }) => {
  host.handleIq('host', 'get', NS_PING, 'ping', () => undefined);
};
