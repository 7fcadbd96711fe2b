/**
 * What the host tells about itself in disco#info (XEP-0030 section 3.1), computed on each
 * request because feature modules register in any order, plus its caps hash (XEP-0115),
 * recomputed only when the identities or features change.
 */
import type { Host } from '../../router/host.ts';
import { capsHash, type CapsInput } from './caps.ts';

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

/** XEP-0030 section 3.1: the identities, and every feature including disco itself and each handled namespace. */
export function hostDiscoInfo(host: Host): CapsInput {
  const features = new Set([NS_DISCO_INFO, NS_DISCO_ITEMS, ...host.discoFeatures, ...host.iqNamespaces('host')]);
  return { identities: host.discoIdentities, features: [...features].sort() };
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
