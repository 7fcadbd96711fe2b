/**
 * The admin API's abuse controls, which change server state and storage, so they answer
 * asynchronously (the read-only endpoints are in routes.ts):
 *
 *   GET    /v1/bans                       banned addresses and ranges
 *   PUT    /v1/bans/<address[/prefix]>    ban one (?reason=...); its open connections close
 *   DELETE /v1/bans/<address[/prefix]>    lift a ban
 *   GET    /v1/blocked-domains            remote domains blocked for federation
 *   PUT    /v1/blocked-domains/<domain>   block one (?reason=...); its connections close
 *   DELETE /v1/blocked-domains/<domain>   lift a block
 *
 * The parameter is one path segment, so a range's "/" is written %2F.
 */
import { prepareDomain } from '../jid/jid.ts';
import type { AddressBan, DomainBlock } from '../policy/abuse-list.ts';
import { canonicalBan } from '../policy/abuse-list.ts';
import { errorResponse, json, type AdminResponse } from './routes.ts';
import type { AdminSources } from './sources.ts';
import type { BanRow, DomainBlockRow } from './types.ts';

const BANS = '/v1/bans';
const BLOCKS = '/v1/blocked-domains';
const MAX_REASON = 500;

/** Answers the abuse-control endpoints; undefined for any other path. */
export async function handleAbuseRequest(method: string, target: string, sources: AdminSources): Promise<AdminResponse | undefined> {
  const [rawPath = '', query = ''] = target.split('?', 2);
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  const collection = path === BANS || path.startsWith(`${BANS}/`) ? BANS : path === BLOCKS || path.startsWith(`${BLOCKS}/`) ? BLOCKS : undefined;
  if (collection === undefined) return undefined;
  const limits = sources.limits;
  if (!limits) return errorResponse(404, 'this server has no abuse controls');
  const rest = path.slice(collection.length + 1);
  if (rest.includes('/')) return errorResponse(404, `no such endpoint: ${path}; write the "/" of a range as %2F`);
  let parameter: string;
  try {
    parameter = decodeURIComponent(rest);
  } catch {
    return errorResponse(400, 'malformed percent-encoding in the path');
  }
  const reason = new URLSearchParams(query).get('reason')?.slice(0, MAX_REASON) || undefined;
  const verb = method === 'HEAD' ? 'GET' : method;
  if (parameter === '') {
    if (verb !== 'GET') return errorResponse(405, `${method} is not allowed on ${path}; use GET, HEAD`, { Allow: 'GET, HEAD' });
    return collection === BANS ? json(200, { bans: limits.bans.map(banRow) }) : json(200, { domains: limits.blocks.map(blockRow) });
  }
  if (verb !== 'PUT' && verb !== 'DELETE') return errorResponse(405, `${method} is not allowed on ${path}; use PUT, DELETE`, { Allow: 'PUT, DELETE' });
  if (collection === BANS) {
    try {
      canonicalBan(parameter);
    } catch (error) {
      return errorResponse(400, `${JSON.stringify(parameter)} is not an address or range: ${(error as Error).message}`);
    }
    if (verb === 'PUT') {
      const { ban, created, closed } = await limits.ban(parameter, reason);
      return json(created ? 201 : 200, { ban: banRow(ban), created, connectionsClosed: closed });
    }
    return (await limits.unban(parameter)) ? json(200, { unbanned: canonicalBan(parameter) }) : errorResponse(404, `${canonicalBan(parameter)} is not banned`);
  }
  let domain: string;
  try {
    domain = prepareDomain(parameter);
  } catch (error) {
    return errorResponse(400, `${JSON.stringify(parameter)} is not a domain: ${(error as Error).message}`);
  }
  if (sources.hosts().includes(domain)) return errorResponse(400, `${domain} is hosted here; only remote domains can be blocked`);
  if (verb === 'PUT') {
    const { block, created, closed } = await limits.block(domain, reason);
    return json(created ? 201 : 200, { domain: blockRow(block), created, connectionsClosed: closed });
  }
  return (await limits.unblock(domain)) ? json(200, { unblocked: domain }) : errorResponse(404, `${domain} is not blocked`);
}

function banRow(ban: AddressBan): BanRow {
  return { address: ban.address, reason: ban.reason ?? null, createdAt: new Date(ban.createdAt).toISOString() };
}

function blockRow(block: DomainBlock): DomainBlockRow {
  return { domain: block.domain, reason: block.reason ?? null, createdAt: new Date(block.createdAt).toISOString() };
}
