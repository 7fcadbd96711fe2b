/** The servers a scenario can run, by name, with their port on the benchmark address and how clients talk to them. */
import { startEjabberd } from './ejabberd.ts';
import { startProsody } from './prosody.ts';
import { startRelay } from './relay.ts';
import type { ServerStarter } from './server-under-test.ts';
import { startTrellis } from './trellis.ts';

export type ClientProtocol = 'xmpp' | 'relay';

export const SERVERS: Record<string, { start: ServerStarter; port: number; protocol: ClientProtocol }> = {
  trellis: { start: startTrellis, port: 52221, protocol: 'xmpp' },
  prosody: { start: startProsody, port: 52222, protocol: 'xmpp' },
  ejabberd: { start: startEjabberd, port: 52223, protocol: 'xmpp' },
  relay: { start: startRelay, port: 52224, protocol: 'relay' },
};
