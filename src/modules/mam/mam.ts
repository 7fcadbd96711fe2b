/**
 * Message Archive Management (XEP-0313) for a host's users: every user's archive at the
 * user's bare JID, written as messages pass (src/modules/mam/user-archive.ts), queried with
 * the form's filters and RSM pages, with the extended features (before-id, after-id, ids,
 * flipped pages, metadata) and archiving preferences (XEP-0441). Only the user may query or
 * configure the archive. docs/archive.md is the operator's view.
 */
import { STANZA_EVENTS, type IqRequest } from '../../router/host.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { decodePrefs, encodePrefs, parsePrefs, prefsElement } from './prefs.ts';
import { StoredPrefs } from './stored-prefs.ts';
import { parseArchiveQuery } from './query.ts';
import { finElement, metadataElement, queryForm } from './results.ts';
import { runArchiveQuery } from './run-query.ts';
import { sendResults } from './send-results.ts';
import { UserArchives } from './user-archive.ts';
import { NS_MAM, NS_MAM_EXTENDED, NS_SID } from './xmlns.ts';

/** A received message: after blocking (100) and the strangers limit (50), which refuse messages the archive must not keep; before delivery (-100). */
const INCOMING_PRIORITY = -40;
/** A sent message: after blocking (100) refused what it refuses; before carbons (0) copy it. */
const OUTGOING_PRIORITY = 20;
/** After carbons made the copies of a sent message. */
const AFTER_CARBONS_PRIORITY = -10;

export const mamModule: FeatureModule = (context) => {
  const { host } = context;
  const stored = new StoredPrefs(host.domain, context.storage, context.router.notices);
  const archives = new UserArchives(context, stored);
  host.accountDiscoFeatures.add(NS_MAM);
  host.accountDiscoFeatures.add(NS_MAM_EXTENDED);
  // XEP-0359 section 5: the server adds stanza IDs.
  host.discoFeatures.add(NS_SID);

  for (const form of ['bare', 'full'] as const) {
    host.events.on(STANZA_EVENTS.message[form], (event) => archives.incoming(event), INCOMING_PRIORITY, (event) => archives.decideIncoming(event));
  }
  host.events.on('pre-message', (event) => archives.outgoing(event), OUTGOING_PRIORITY);
  host.events.on('pre-message', (event) => archives.afterCarbons(event), AFTER_CARBONS_PRIORITY);

  host.handleIq('account', 'set', NS_MAM, 'query', async (request) => {
    await archives.whenWritten(request.to.local!);
    return query(context, request);
  });
  host.handleIq('account', 'get', NS_MAM, 'query', () => queryForm());
  host.handleIq('account', 'get', NS_MAM, 'metadata', async ({ to }) => {
    await archives.whenWritten(to.local!);
    return metadata(context, to.local!);
  });
  host.handleIq('account', 'get', NS_MAM, 'prefs', async ({ to }) => prefsElement(decodePrefs(await stored.get(to.local!), host.config.mam.default)));
  host.handleIq('account', 'set', NS_MAM, 'prefs', async ({ to, payload }) => {
    const prefs = parsePrefs(payload);
    await stored.set(to.local!, encodePrefs(prefs));
    return prefsElement(prefs);
  });
  // XEP-0313 section 3.3.1: a user's archive is the user's alone.
  for (const [type, name] of [['set', 'query'], ['get', 'query'], ['get', 'metadata'], ['get', 'prefs'], ['set', 'prefs']] as const) {
    host.handleIq('bare', type, NS_MAM, name, () => {
      throw new StanzaError('forbidden', "another user's archive is not yours to read");
    });
  }
};

async function query({ host, storage, router, logger }: ModuleContext, { payload, from, to }: IqRequest) {
  const request = parseArchiveQuery(payload, host.config.mam);
  const outcome = await runArchiveQuery(storage.archive, { domain: host.domain, name: to.local! }, request);
  const session = router.sessions.get(from);
  if (!session) throw new StanzaError('not-allowed', 'archive results go to a client connected to this server');
  const sent = sendResults(outcome, request, { archive: to.bare().toString(), to: from.toString(), send: (stanza) => session.send(stanza), logger });
  return finElement(outcome, sent);
}

async function metadata({ host, storage }: ModuleContext, username: string) {
  return metadataElement(await storage.archive.bounds({ domain: host.domain, name: username }));
}

