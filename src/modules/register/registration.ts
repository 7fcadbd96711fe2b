/**
 * Account creation before authentication (XEP-0077 section 3.1): open to anyone where the host
 * enables it (`registration.enabled`), limited per client IP address; and, on any host, to a
 * client that first presents an invitation (XEP-0445 section 4, src/modules/register/invites.ts),
 * which may register one account (the invitation's username, when it names one).
 */
import { AccountExistsError } from '../../storage/types.ts';
import { el } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { ModuleContext } from '../context.ts';
import { NS_REGISTER, NS_REGISTER_FEATURE, credentialsOf, usernameOf } from './fields.ts';
import { checkInvite, inviteUsed, NS_IBR_TOKEN, NS_PARS, redeemInvite, type Invite } from './invites.ts';
import { makeJid, parseJid } from '../../jid/jid.ts';
import { Subscriptions } from '../presence/subscriptions.ts';
import { RosterService } from '../roster/roster-service.ts';
import { SlidingWindowLimit } from '../../util/sliding-window.ts';

const HOUR_MS = 3600_000;

export function enableRegistration({ host, storage, config, logger, router }: ModuleContext): void {
  const settings = host.config.registration;
  // XEP-0077 section 8 and XEP-0445 section 3: the stream features say what is possible.
  if (settings.enabled) host.streamFeatures.preAuth.push(el('register', NS_REGISTER_FEATURE));
  host.streamFeatures.preAuth.push(el('register', NS_IBR_TOKEN));
  const perAddress = new SlidingWindowLimit(settings.max_per_ip_per_hour, HOUR_MS);
  /** the invitation each stream presented, with its token, until it registers */
  const invited = new WeakMap<object, { token: string; invite: Invite }>();
  const subscriptions = new Subscriptions(router, new RosterService(storage, router), storage.accounts);

  // XEP-0445 section 4: the token is checked now and used only by a registration that succeeds.
  host.handlePreAuthIq(NS_PARS, 'preauth', async ({ stanza, payload, stream, address }) => {
    if (stanza.attrs.type !== 'set') throw new StanzaError('bad-request', 'present an invitation with a set');
    const token = payload.attrs.token ?? '';
    try {
      const invite = await checkInvite(storage, host.domain, token);
      // An account's invitation registers only while its host lets them (`registration.user_invites`).
      if (invite.inviter !== undefined && host.config.registration.user_invites !== 'account') throw new StanzaError('item-not-found', 'this invitation is unknown, used or expired');
      invited.set(stream, { token, invite });
    } catch (error) {
      router.refusals.warn(`invitation ${address}`, 'invitation refused: unknown, used or expired', { address }, logger);
      throw error;
    }
    return undefined;
  });

  host.handlePreAuthIq(NS_REGISTER, 'query', async ({ stanza, payload, address, secure, stream }) => {
    const invitation = invited.get(stream);
    if (!settings.enabled && !invitation) throw new StanzaError('service-unavailable', 'in-band registration is disabled on this server; it takes an invitation');
    // Section 3.1: the form lists the fields to fill in (the invitation's username, when it names one).
    if (stanza.attrs.type === 'get') {
      const username = invitation?.invite.username;
      return el('query', NS_REGISTER, {}, el('instructions', NS_REGISTER, {}, 'Choose a username and password to register with this server.'), username === undefined ? el('username', NS_REGISTER) : el('username', NS_REGISTER, {}, username), el('password', NS_REGISTER));
    }
    // Section 3.2: cancelling a registration needs an authenticated account.
    if (payload.getChild('remove')) throw new StanzaError('not-authorized', 'log in to remove an account');
    // Section 11: registration sends the password inside the stream, so only over TLS.
    if (!secure) throw new StanzaError('not-authorized', 'registration needs an encrypted stream: use STARTTLS first');
    // Section 3.1: missing, empty or invalid fields are not-acceptable.
    const username = usernameOf(payload, 'not-acceptable');
    const credentials = credentialsOf(payload, config.c2s.scram_iterations, 'not-acceptable');
    const create = async () => {
      try {
        await storage.accounts.create(host.domain, username, credentials);
      } catch (error) {
        // Section 3.1: the username is taken.
        if (error instanceof AccountExistsError) throw new StanzaError('conflict', 'that username is taken');
        throw error;
      }
    };
    if (invitation) {
      const reserved = invitation.invite.username;
      if (reserved !== undefined && reserved !== username) throw new StanzaError('not-allowed', `this invitation is for the username ${reserved}`);
      await redeemInvite(storage, invitation.token, create);
      invited.delete(stream);
      router.traffic.registrations.add('registered');
      const { inviter } = invitation.invite;
      logger.info('account registered with an invitation', { user: `${username}@${host.domain}`, address, ...(inviter ? { inviter } : {}) });
      if (inviter !== undefined) {
        // XEP-0401 section 4: the new account and the one that invited it become contacts.
        await inviteUsed(storage, invitation.invite, invitation.token);
        await subscriptions.mutual(parseJid(inviter), makeJid(username, host.domain));
      }
      return undefined;
    }
    if (!perAddress.allows(address)) {
      router.refusals.warn(`registration ${address}`, 'registration refused: too many from one address', { address, limit: settings.max_per_ip_per_hour }, logger);
      router.traffic.registrations.add('refused');
      throw new StanzaError('policy-violation', `at most ${settings.max_per_ip_per_hour} accounts per hour may be registered from one address; try again later`, 'wait');
    }
    await create();
    perAddress.record(address);
    router.traffic.registrations.add('registered');
    logger.info('account registered', { user: `${username}@${host.domain}`, address });
    return undefined;
  });
}
