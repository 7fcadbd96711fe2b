/**
 * Software version (XEP-0092): the server's name and version, without the operating system
 * (section 4 leaves <os/> optional, and it only helps attackers). `version.hidden` leaves the
 * request unhandled, so it gets service-unavailable and the feature is not advertised.
 */
import { readFileSync } from 'node:fs';
import { el } from '../../xml/element.ts';
import type { FeatureModule } from '../context.ts';

export const NS_VERSION = 'jabber:iq:version';

const packageVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export const versionModule: FeatureModule = ({ host }) => {
  if (host.config.version.hidden) return;
  // XEP-0092 section 3: <name/> and <version/>.
  host.handleIq('host', 'get', NS_VERSION, 'query', () => el('query', NS_VERSION, {}, el('name', NS_VERSION, {}, 'Trellis'), el('version', NS_VERSION, {}, packageVersion)));
};
