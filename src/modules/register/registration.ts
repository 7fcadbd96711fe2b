/**
 * Account creation before authentication (XEP-0077 section 3.1), when the host enables it,
 * limited per client IP address.
 */
import { AccountExistsError } from '../../storage/types.ts';
import { el } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { ModuleContext } from '../context.ts';
import { NS_REGISTER, NS_REGISTER_FEATURE, credentialsOf, usernameOf } from './fields.ts';
import { SlidingWindowLimit } from '../../util/sliding-window.ts';

const HOUR_MS = 3600_000;

export function enableRegistration({ host, storage, config, logger, router }: ModuleContext): void {
  const settings = host.config.registration;
  // Section 8: the stream feature is offered only where registration is possible.
  if (settings.enabled) host.streamFeatures.preAuth.push(el('register', NS_REGISTER_FEATURE));
  const perAddress = new SlidingWindowLimit(settings.max_per_ip_per_hour, HOUR_MS);

  host.handlePreAuthIq(NS_REGISTER, 'query', async ({ stanza, payload, address, secure }) => {
    if (!settings.enabled) throw new StanzaError('service-unavailable', 'in-band registration is disabled on this server');
    // Section 3.1: the form lists the fields to fill in.
    if (stanza.attrs.type === 'get') {
      return el('query', NS_REGISTER, {}, el('instructions', NS_REGISTER, {}, 'Choose a username and password to register with this server.'), el('username', NS_REGISTER), el('password', NS_REGISTER));
    }
    // Section 3.2: cancelling a registration needs an authenticated account.
    if (payload.getChild('remove')) throw new StanzaError('not-authorized', 'log in to remove an account');
    // Section 11: registration sends the password inside the stream, so only over TLS.
    if (!secure) throw new StanzaError('not-authorized', 'registration needs an encrypted stream: use STARTTLS first');
    // Section 3.1: missing, empty or invalid fields are not-acceptable.
    const username = usernameOf(payload, 'not-acceptable');
    const credentials = credentialsOf(payload, config.c2s.scram_iterations, 'not-acceptable');
    if (!perAddress.allows(address)) {
      router.refusals.warn(`registration ${address}`, 'registration refused: too many from one address', { address, limit: settings.max_per_ip_per_hour }, logger);
      router.traffic.registrations.add('refused');
      throw new StanzaError('policy-violation', `at most ${settings.max_per_ip_per_hour} accounts per hour may be registered from one address; try again later`, 'wait');
    }
    try {
      await storage.accounts.create(host.domain, username, credentials);
    } catch (error) {
      // Section 3.1: the username is taken.
      if (error instanceof AccountExistsError) throw new StanzaError('conflict', 'that username is taken');
      throw error;
    }
    perAddress.record(address);
    router.traffic.registrations.add('registered');
    logger.info('account registered', { user: `${username}@${host.domain}`, address });
    return undefined;
  });
}
