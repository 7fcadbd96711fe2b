/**
 * The upload service on its service host: slot requests (XEP-0363 section 4) and service
 * discovery (section 3), with the largest file size in an XEP-0128 form so clients can check
 * before asking.
 */
import type { UploadSettings } from '../config/types.ts';
import type { Host } from '../router/host.ts';
import { el, type Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { NS_UPLOAD, type UploadService } from './service.ts';

const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const NS_DATA = 'jabber:x:data';

export function serveUpload(host: Host, service: UploadService, parent: string): void {
  host.discoIdentities.splice(0, host.discoIdentities.length, { category: 'store', type: 'file', name: service.settings.name });
  host.discoFeatures.add(NS_UPLOAD);
  host.handleIq('host', 'get', NS_DISCO_INFO, 'query', ({ payload }) => {
    if (payload.attrs.node !== undefined) throw new StanzaError('item-not-found', 'this service has no nodes');
    return serviceInfo(service.settings);
  });
  host.handleIq('host', 'get', NS_DISCO_ITEMS, 'query', ({ payload }) => {
    if (payload.attrs.node !== undefined) throw new StanzaError('item-not-found', 'this service has no nodes');
    return el('query', NS_DISCO_ITEMS);
  });
  host.handleIq('host', 'get', NS_UPLOAD, 'request', ({ payload, from }) => {
    // Only the users of the host this service belongs to may upload (section 12: the service decides who may).
    if (from.domain !== parent || from.local === undefined) throw new StanzaError('not-allowed', `only users of ${parent} may upload here`);
    const filename = payload.attrs.filename;
    if (!filename) throw new StanzaError('bad-request', 'the request needs a filename');
    const slot = service.requestSlot({ owner: `${from.local}@${from.domain}`, filename, size: Number(payload.attrs.size ?? Number.NaN), type: payload.attrs['content-type'] ?? '' });
    return el('slot', NS_UPLOAD, {}, el('put', NS_UPLOAD, { url: slot.put }), el('get', NS_UPLOAD, { url: slot.get }));
  });
  // Messages and presence to the service itself are not for it.
  host.events.on('presence/host', () => true);
  host.events.on('message/host', ({ stanza }) => {
    if (stanza.attrs.type === 'error' || stanza.attrs.type === 'headline') return true;
    throw new StanzaError('service-unavailable', 'this service takes upload requests only');
  });
}

/** Section 3: the service's identity and feature, and its largest file size (XEP-0128). */
export function serviceInfo(settings: UploadSettings): Element {
  const query = el('query', NS_DISCO_INFO);
  query.c('identity', { category: 'store', type: 'file', name: settings.name });
  for (const feature of [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_UPLOAD]) query.c('feature', { var: feature });
  const form = query.c('x', { type: 'result' }, NS_DATA);
  form.c('field', { var: 'FORM_TYPE', type: 'hidden' }).c('value').t(NS_UPLOAD);
  form.c('field', { var: 'max-file-size' }).c('value').t(String(settings.max_file_size));
  return query;
}
