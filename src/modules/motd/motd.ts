/**
 * The message of the day (`motd.text`), as Prosody's mod_motd and ejabberd's announce module
 * send one: each time a client comes online (its initial presence, RFC 6121 section 4.2), the
 * host sends it a normal message with the text. It goes to that session alone, not through the
 * router: it is not archived, copied to other resources or stored for later.
 */
import { el, NS_CLIENT } from '../../xml/element.ts';
import type { FeatureModule } from '../context.ts';

export const motdModule: FeatureModule = ({ host }) => {
  host.events.on('session/available', ({ session }) => {
    const text = host.config.motd.text;
    if (text !== '') session.send(el('message', NS_CLIENT, { from: host.domain, to: session.jid.toString(), type: 'normal' }, el('body', NS_CLIENT, {}, text)));
    return false;
  });
};
