/**
 * Entity Time (XEP-0202): the server tells its time in UTC and its offset from UTC
 * (section 3), in the formats of XEP-0082 (section 3.2: DateTime with `Z`, offsets as ±hh:mm).
 */
import { el, type Element } from '../../xml/element.ts';
import type { FeatureModule } from '../context.ts';

export const NS_TIME = 'urn:xmpp:time';

export const timeModule: FeatureModule = ({ host }) => {
  host.handleIq('host', 'get', NS_TIME, 'time', () => entityTime(new Date()));
};

export function entityTime(now: Date): Element {
  return el('time', NS_TIME, {}, el('tzo', NS_TIME, {}, timezoneOffset(now)), el('utc', NS_TIME, {}, now.toISOString().replace(/\.\d{3}Z$/, 'Z')));
}

/** XEP-0082 section 3.2: the local offset from UTC, "+hh:mm" or "-hh:mm" ("+00:00" for UTC). */
export function timezoneOffset(now: Date): string {
  const minutesEast = -now.getTimezoneOffset();
  const sign = minutesEast < 0 ? '-' : '+';
  const absolute = Math.abs(minutesEast);
  return `${sign}${String(Math.floor(absolute / 60)).padStart(2, '0')}:${String(absolute % 60).padStart(2, '0')}`;
}
