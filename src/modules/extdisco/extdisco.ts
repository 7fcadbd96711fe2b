/**
 * External service discovery (XEP-0215): the STUN and TURN servers a host's users may use for
 * calls, from `external_services.services`, with TURN credentials made per request from the
 * secret shared with the TURN server (the "TURN REST API" scheme coturn's use-auth-secret
 * checks: the user name is "<expiry>:<jid>", the password base64(HMAC-SHA1(secret, user name))),
 * so that no long-lived password is handed out.
 */
import { createHmac } from 'node:crypto';
import type { HostSettings } from '../../config/types.ts';
import type { Jid } from '../../jid/jid.ts';
import { el, type Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule } from '../context.ts';
import { parseServiceUri } from '../../util/service-uri.ts';

export const NS_EXTDISCO = 'urn:xmpp:extdisco:2';

/** The TURN REST API credentials of `user` for `lifetime` seconds from `now` (milliseconds). */
export function turnCredentials(secret: string, user: string, lifetime: number, now: number): { username: string; password: string; expires: Date } {
  const expires = Math.floor(now / 1000) + lifetime;
  const username = `${expires}:${user}`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64'), expires: new Date(expires * 1000) };
}

/** Section 3: the services, optionally of one type (and for credentials one host), TURN ones with credentials when a secret is set. */
export function servicesElement(name: 'services' | 'credentials', settings: HostSettings['external_services'], user: string, filter: { type?: string; host?: string }, now = Date.now()): Element {
  const result = el(name, NS_EXTDISCO);
  for (const service of settings.services.map(parseServiceUri)) {
    if (filter.type !== undefined && service.type !== filter.type) continue;
    if (filter.host !== undefined && service.host !== filter.host) continue;
    const attrs: Record<string, string> = { type: service.type, host: service.host, port: String(service.port), transport: service.transport };
    if (service.type.startsWith('turn')) {
      attrs.restricted = '1';
      if (settings.secret !== undefined) {
        const credentials = turnCredentials(settings.secret, user, settings.credential_lifetime, now);
        Object.assign(attrs, { username: credentials.username, password: credentials.password, expires: credentials.expires.toISOString().replace(/\.\d{3}Z$/, 'Z') });
      }
    }
    result.c('service', attrs);
  }
  return result;
}

export const extdiscoModule: FeatureModule = ({ host }) => {
  if (host.config.external_services.services.length === 0) return;
  const user = (from: Jid): string => {
    // Section 9: credentials only for the host's own users.
    if (from.domain !== host.domain || from.local === undefined) throw new StanzaError('forbidden', `only users of ${host.domain} may use its STUN and TURN services`);
    return `${from.local}@${from.domain}`;
  };
  host.handleIq('host', 'get', NS_EXTDISCO, 'services', ({ payload, from }) => servicesElement('services', host.config.external_services, user(from), { type: payload.attrs.type }));
  host.handleIq('host', 'get', NS_EXTDISCO, 'credentials', ({ payload, from }) => {
    const wanted = payload.getChild('service', NS_EXTDISCO);
    if (!wanted?.attrs.host) throw new StanzaError('bad-request', 'name the service with <service host=... type=.../>');
    const answer = servicesElement('credentials', host.config.external_services, user(from), { type: wanted.attrs.type, host: wanted.attrs.host });
    if (answer.children.length === 0) throw new StanzaError('item-not-found', `no service at ${wanted.attrs.host}`);
    return answer;
  });
};
