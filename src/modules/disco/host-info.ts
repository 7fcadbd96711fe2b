/**
 * What the host tells about itself in disco#info (XEP-0030 section 3.1), computed on each
 * request because feature modules register in any order, plus its caps hash (XEP-0115),
 * recomputed only when the identities or features change.
 */
import { CONTACT_ADDRESS_KINDS, type HostSettings } from '../../config/types.ts';
import type { Host } from '../../router/host.ts';
import { capsHash, type CapsForm, type CapsInput } from './caps.ts';

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

/** XEP-0157 section 4: the FORM_TYPE of the contact addresses form. */
export const FORM_TYPE_SERVERINFO = 'http://jabber.org/network/serverinfo';

/**
 * XEP-0030 section 3.1: the identities, and every feature including disco itself and each
 * handled namespace; with contact addresses configured, their form (XEP-0128, XEP-0157).
 */
export function hostDiscoInfo(host: Host): CapsInput {
  const features = new Set([NS_DISCO_INFO, NS_DISCO_ITEMS, ...host.discoFeatures, ...host.iqNamespaces('host')]);
  const contacts = contactAddressForm(host.config.contact_addresses);
  return { identities: host.discoIdentities, features: [...features].sort(), ...(contacts ? { forms: [contacts] } : {}) };
}

/** XEP-0157 section 4: one `<kind>-addresses` field per kind with addresses; no form when none is configured. */
function contactAddressForm(addresses: HostSettings['contact_addresses']): CapsForm | undefined {
  const fields = CONTACT_ADDRESS_KINDS.filter((kind) => addresses[kind].length > 0).map((kind) => ({ name: `${kind}-addresses`, values: [...addresses[kind]] }));
  return fields.length > 0 ? { formType: FORM_TYPE_SERVERINFO, fields } : undefined;
}

export class CapsCache {
  #key: string | undefined;
  #ver = '';

  /** The `ver` of the host's current disco#info. */
  verFor(host: Host): string {
    const info = hostDiscoInfo(host);
    const key = JSON.stringify(info);
    if (key !== this.#key) {
      this.#key = key;
      this.#ver = capsHash(info);
    }
    return this.#ver;
  }
}
