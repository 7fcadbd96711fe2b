/**
 * The admin API's day-to-day operations, which change server state and so answer
 * asynchronously (the read-only endpoints are in routes.ts):
 *
 *   POST   /v1/reload            read the configuration file again (`trellis reload`): what
 *                                changed, what was refused and why, what needs a restart
 *   DELETE /v1/sessions/<jid>    end a client session (a full JID) or all of an account's (a
 *                                bare JID) with <policy-violation/> (?reason=... is its text)
 *   DELETE /v1/accounts/<jid>    delete an account with everything stored for it, and end its
 *                                sessions with <not-authorized/>
 *
 * RFC 6120 section 4.9.3: a kick is the operator's policy (4.9.3.12 policy-violation); a deleted
 * account is no longer authorized to use the stream it authenticated (4.9.3.14 not-authorized,
 * as XEP-0077 section 3.2 does when a user removes their own account). Sessions waiting for
 * resumption (XEP-0198) end too, so the client cannot resume them.
 */
import { parseJid, type Jid } from '../jid/jid.ts';
import type { SessionEndCondition, SessionRegistry } from '../router/sessions.ts';
import type { ReloadOutcome } from '../server-reload.ts';
import { errorResponse, json, type AdminResponse } from './routes.ts';
import type { AdminSources } from './sources.ts';

/** What the operations act on; the composition root (src/server.ts) supplies it. */
export interface OperatorSources {
  reload(): Promise<ReloadOutcome>;
  /** the session table: bound and resumable sessions */
  sessions: Pick<SessionRegistry, 'sessionsOf'>;
  /** deletes an account and everything stored for it; false when there was none */
  deleteAccount(domain: string, username: string): Promise<boolean>;
}

const MAX_REASON = 500;

/** Answers the operations endpoints; undefined for any other path. */
export async function handleOperatorRequest(method: string, target: string, sources: AdminSources): Promise<AdminResponse | undefined> {
  const [rawPath = '', query = ''] = target.split('?', 2);
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  const route = path === '/v1/reload' ? 'reload' : path.startsWith('/v1/sessions/') ? 'sessions' : path.startsWith('/v1/accounts/') ? 'accounts' : undefined;
  if (route === undefined) return undefined;
  const operations = sources.operations;
  if (!operations) return errorResponse(404, 'this server does not offer operations through the admin API');
  if (route === 'reload') {
    if (method !== 'POST') return errorResponse(405, `${method} is not allowed on ${path}; use POST`, { Allow: 'POST' });
    return reloadAnswer(await operations.reload());
  }
  if (method !== 'DELETE') return errorResponse(405, `${method} is not allowed on ${path}; use DELETE`, { Allow: 'DELETE' });
  let jid: Jid;
  try {
    jid = parseJid(decodeURIComponent(path.slice(route === 'sessions' ? '/v1/sessions/'.length : '/v1/accounts/'.length)));
  } catch (error) {
    return errorResponse(400, `not a JID: ${(error as Error).message}`);
  }
  if (jid.local === undefined) return errorResponse(400, `${jid} is not a user's address (expected user@domain)`);
  if (!sources.hosts().includes(jid.domain)) return errorResponse(404, `${jid.domain} is not a hosted domain`);
  if (route === 'sessions') {
    const reason = new URLSearchParams(query).get('reason')?.slice(0, MAX_REASON) || 'disconnected by the server administrator';
    const kicked = endSessions(operations, jid, 'policy-violation', reason);
    if (kicked.length === 0) return errorResponse(404, `${jid} has no session`);
    return json(200, { kicked });
  }
  if (jid.resource !== undefined) return errorResponse(400, `${jid} names a resource; an account is user@domain`);
  if (!(await operations.deleteAccount(jid.domain, jid.local))) return errorResponse(404, `no account ${jid}`);
  const ended = endSessions(operations, jid, 'not-authorized', 'this account has been deleted');
  return json(200, { deleted: jid.toString(), sessionsEnded: ended.length });
}

/** 200 with the report; 409 when there is no file to read, 422 when the file was refused as a whole, 500 when applying it failed. */
function reloadAnswer(outcome: ReloadOutcome): AdminResponse {
  if (outcome.ok) return json(200, outcome);
  const status = { 'no-config-file': 409, 'config-error': 422, 'apply-failed': 500 }[outcome.refused];
  return json(status, { error: outcome.error, refused: outcome.refused });
}

function endSessions(operations: OperatorSources, jid: Jid, condition: SessionEndCondition, text: string): string[] {
  const sessions = operations.sessions.sessionsOf(jid);
  for (const session of sessions) session.terminate(condition, text);
  return sessions.map((session) => session.jid.toString());
}
