/**
 * The console's JSON endpoints under /admin/api/ (docs/console.md). Reading uses the admin API's
 * rows (src/admin/sources.ts); kicking sessions and deleting accounts go through the admin API's
 * own operations (src/admin/operator-routes.ts), so that a user deleted here is disconnected as
 * `trellis deluser` does it. Every request reaching here is authenticated, and a state-changing
 * one carried its CSRF token (route.ts).
 *
 *   GET    status                      the server (GET /v1/status)
 *   GET    hosts                       hosted domains with their accounts, sessions and group-chat services
 *   GET    users?domain=D&q=TEXT       accounts, filtered by a part of their address, at most 1000
 *   POST   users                       {"account", "password"}: a new account
 *   POST   users/<jid>/password        {"password"}: a new password
 *   DELETE users/<jid>                 delete an account; its sessions end
 *   GET    sessions                    bound client sessions (GET /v1/c2s)
 *   DELETE sessions/<jid>              end a session (full JID) or all of an account's (bare JID)
 *   GET    federation                  the federation map (federation-map.ts)
 */
import { makeStoredCredentials } from '../auth/scram.ts';
import { errorResponse, json, type AdminResponse } from '../admin/routes.ts';
import { handleOperatorRequest } from '../admin/operator-routes.ts';
import { c2sRows, mucServiceRows, statusReport, type AdminSources } from '../admin/sources.ts';
import { parseJid, type Jid } from '../jid/jid.ts';
import { AccountExistsError, type AccountStore } from '../storage/types.ts';
import { federationMap, type MapConfig } from './federation-map.ts';

export interface ApiSources {
  admin: AdminSources;
  accounts: Pick<AccountStore, 'create' | 'setCredentials' | 'list'>;
  /** the configuration in force: routes and links for the map, the iteration count of new verifiers */
  config(): MapConfig & { scramIterations: number };
  /** ends the console logins of an admin whose password changed or account was deleted */
  closeAdmin(admin: string): void;
}

export const MAX_USERS_LISTED = 1000;
const MAX_PASSWORD_BYTES = 1024;
const MAX_QUERY_CHARS = 200;

export async function handleConsoleApi(method: string, path: string, query: URLSearchParams, body: unknown, sources: ApiSources): Promise<AdminResponse> {
  const segments = path.split('/');
  const [resource = '', rawJid, sub] = segments;
  if (segments.length > 3) return errorResponse(404, `no such endpoint: ${path}`);
  const route = `${method} ${resource}${rawJid === undefined ? '' : sub === undefined ? '/*' : `/*/${sub}`}`;
  switch (route) {
    case 'GET status':
      return json(200, statusReport(sources.admin));
    case 'GET hosts':
      return json(200, { hosts: await hostRows(sources) });
    case 'GET users':
      return listUsers(sources, query);
    case 'POST users':
      return addUser(sources, body);
    case 'POST users/*/password':
      return setPassword(sources, rawJid!, body);
    case 'DELETE users/*':
      return viaAdminApi('accounts', rawJid!, sources);
    case 'GET sessions':
      return json(200, { sessions: c2sRows(sources.admin) });
    case 'DELETE sessions/*':
      return viaAdminApi('sessions', rawJid!, sources);
    case 'GET federation':
      return json(200, federationMap(sources.admin, sources.config()));
    default:
      return errorResponse(404, `no such endpoint: ${method} /admin/api/${path}`);
  }
}

async function hostRows(sources: ApiSources) {
  const sessions = c2sRows(sources.admin);
  const services = mucServiceRows(sources.admin);
  return Promise.all(
    sources.admin.hosts().map(async (domain) => ({
      domain,
      accounts: (await sources.accounts.list(domain)).length,
      sessions: sessions.filter((row) => parseJid(row.jid).domain === domain).length,
      services: services.filter((row) => row.host === domain),
    })),
  );
}

async function listUsers(sources: ApiSources, query: URLSearchParams): Promise<AdminResponse> {
  const domain = query.get('domain') ?? '';
  const hosts = sources.admin.hosts();
  if (domain !== '' && !hosts.includes(domain)) return errorResponse(404, `${domain} is not a hosted domain`);
  const text = (query.get('q') ?? '').slice(0, MAX_QUERY_CHARS).toLowerCase();
  const online = new Set(c2sRows(sources.admin).map((row) => parseJid(row.jid).bare().toString()));
  const users: { jid: string; online: boolean }[] = [];
  let total = 0;
  for (const name of domain === '' ? hosts : [domain]) {
    for (const username of await sources.accounts.list(name)) {
      const jid = `${username}@${name}`;
      if (text !== '' && !jid.includes(text)) continue;
      total++;
      if (users.length < MAX_USERS_LISTED) users.push({ jid, online: online.has(jid) });
    }
  }
  return json(200, { users, total, truncated: total > users.length });
}

async function addUser(sources: ApiSources, body: unknown): Promise<AdminResponse> {
  const fields = body as { account?: unknown; password?: unknown } | undefined;
  const jid = accountOf(sources, fields?.account);
  if (typeof jid === 'string') return errorResponse(400, jid);
  const password = passwordOf(fields?.password);
  if (password === undefined) return errorResponse(400, `a password of 1 to ${MAX_PASSWORD_BYTES} bytes is needed`);
  try {
    await sources.accounts.create(jid.domain, jid.local!, makeStoredCredentials(password, sources.config().scramIterations));
  } catch (error) {
    if (error instanceof AccountExistsError) return errorResponse(409, `${jid} already exists`);
    throw error;
  }
  return json(201, { created: jid.toString() });
}

async function setPassword(sources: ApiSources, rawJid: string, body: unknown): Promise<AdminResponse> {
  const jid = accountOf(sources, decodeSegment(rawJid));
  if (typeof jid === 'string') return errorResponse(400, jid);
  const password = passwordOf((body as { password?: unknown } | undefined)?.password);
  if (password === undefined) return errorResponse(400, `a password of 1 to ${MAX_PASSWORD_BYTES} bytes is needed`);
  if (!(await sources.accounts.setCredentials(jid.domain, jid.local!, makeStoredCredentials(password, sources.config().scramIterations)))) return errorResponse(404, `no account ${jid}`);
  sources.closeAdmin(jid.toString());
  return json(200, { passwordChanged: jid.toString() });
}

/** The admin API's own operation (DELETE /v1/accounts/<jid> or /v1/sessions/<jid>), answered as it answers. */
async function viaAdminApi(kind: 'accounts' | 'sessions', rawJid: string, sources: ApiSources): Promise<AdminResponse> {
  const answer = await handleOperatorRequest('DELETE', `/v1/${kind}/${rawJid}`, sources.admin);
  if (answer === undefined) return errorResponse(404, 'no such endpoint');
  if (kind === 'accounts' && answer.status === 200) sources.closeAdmin((JSON.parse(answer.body) as { deleted: string }).deleted);
  return answer;
}

/** A bare JID on a hosted domain, or what is wrong with the text. */
function accountOf(sources: ApiSources, value: unknown): Jid | string {
  if (typeof value !== 'string' || value === '') return 'an account is needed, as user@domain';
  let jid: Jid;
  try {
    jid = parseJid(value.trim());
  } catch (error) {
    return `not an address: ${(error as Error).message}`;
  }
  if (jid.local === undefined || jid.resource !== undefined) return `${jid} is not an account; expected user@domain`;
  if (!sources.admin.hosts().includes(jid.domain)) return `${jid.domain} is not a hosted domain`;
  return jid;
}

function passwordOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && Buffer.byteLength(value) <= MAX_PASSWORD_BYTES ? value : undefined;
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
