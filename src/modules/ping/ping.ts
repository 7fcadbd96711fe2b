/** XEP-0199 section 4.2: the server answers a ping addressed to it with an empty result. */
import type { Host } from '../../router/host.ts';
import { NS_PING } from '../../xml/namespaces.ts';

export function enablePing(host: Host): void {
  host.handleIq('host', 'get', NS_PING, 'ping', () => undefined);
}
