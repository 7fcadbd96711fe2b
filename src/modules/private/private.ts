/**
 * Private XML storage (XEP-0049): a user keeps XML fragments on the server, one document per
 * namespace of the fragment's root (for example storage:bookmarks, XEP-0048).
 */
import { el, type Element } from '../../xml/element.ts';
import { parseElement } from '../../xml/parse-element.ts';
import { serialize } from '../../xml/serialize.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule } from '../context.ts';

export const NS_PRIVATE = 'jabber:iq:private';
/** one user-data document per namespace: this prefix and the namespace (also read and written by src/piefxis) */
export const PRIVATE_KEY_PREFIX = 'private:';

export const privateModule: FeatureModule = ({ host, storage }) => {
  // Clients look for private storage in the server's disco#info, as Prosody and ejabberd list it.
  host.discoFeatures.add(NS_PRIVATE);
  host.handleIq('account', 'get', NS_PRIVATE, 'query', async ({ to, payload }) => {
    const children = payload.elements();
    // XEP-0049 section 2.3: a get names exactly one namespace.
    if (children.length !== 1) throw new StanzaError('bad-request', 'a private storage get names exactly one element');
    const wanted = children[0]!;
    checkNamespace(wanted.xmlns);
    const stored = await storage.userData.get(to.domain, to.local!, PRIVATE_KEY_PREFIX + wanted.xmlns);
    // Nothing stored: the request's element comes back empty, as servers commonly answer.
    return el('query', NS_PRIVATE, {}, ...(stored === undefined ? [el(wanted.name, wanted.xmlns)] : parseElement(stored).elements()));
  });

  host.handleIq('account', 'set', NS_PRIVATE, 'query', async ({ to, payload }) => {
    const children = payload.elements();
    if (children.length === 0) throw new StanzaError('bad-request', 'nothing to store: the query needs a child element in its own namespace');
    // Section 2.3: several elements may be stored at once; each namespace is one document.
    const byNamespace = new Map<string, Element[]>();
    for (const child of children) {
      checkNamespace(child.xmlns);
      byNamespace.set(child.xmlns, [...(byNamespace.get(child.xmlns) ?? []), child]);
    }
    for (const [namespace, elements] of byNamespace) {
      await storage.userData.set(to.domain, to.local!, PRIVATE_KEY_PREFIX + namespace, serialize(el('query', NS_PRIVATE, {}, ...elements)));
    }
    return undefined;
  });

  // Section 2.3: another user's private data is forbidden.
  const forbidden = (): never => {
    throw new StanzaError('forbidden', 'private XML storage holds only your own data');
  };
  host.handleIq('bare', 'get', NS_PRIVATE, 'query', forbidden);
  host.handleIq('bare', 'set', NS_PRIVATE, 'query', forbidden);
};

/** Section 2.3: namespaces reserved by Jabber (jabber:*, http://jabber.org/*, vcard-temp) are not-acceptable. */
function checkNamespace(namespace: string): void {
  if (namespace === '' || namespace === NS_PRIVATE) throw new StanzaError('bad-request', 'the stored element needs a namespace of its own');
  if (namespace.startsWith('jabber:') || namespace.startsWith('http://jabber.org/') || namespace === 'vcard-temp') {
    throw new StanzaError('not-acceptable', `${namespace} is a reserved namespace`);
  }
}
