/**
 * `trellis ban`, `trellis unban`, `trellis s2s block|unblock|blocked`: the running server's
 * abuse controls, through the admin API (docs/admin.md). They take effect at once, close the
 * connections they cover, and are kept in storage across restarts.
 */
import type { TrellisConfig } from '../config/types.ts';
import { adminJson } from '../admin/client.ts';
import type { BanRow, DomainBlockRow } from '../admin/types.ts';
import { formatTable, withAdminSocket } from './admin-call.ts';

function withReason(path: string, reason: string | undefined): string {
  return reason ? `${path}?reason=${encodeURIComponent(reason)}` : path;
}

export function listBans(config: TrellisConfig, asJson: boolean): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const { bans } = await adminJson<{ bans: BanRow[] }>(socket, 'GET', '/v1/bans');
    if (asJson) process.stdout.write(JSON.stringify(bans, null, 2) + '\n');
    else process.stdout.write(bans.length === 0 ? 'no banned addresses\n' : formatTable(['ADDRESS', 'SINCE', 'REASON'], bans.map((ban) => [ban.address, ban.createdAt, ban.reason ?? '-'])));
    return 0;
  });
}

export function ban(config: TrellisConfig, address: string, reason: string | undefined): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const answer = await adminJson<{ ban: BanRow; created: boolean; connectionsClosed: number }>(socket, 'PUT', withReason(`/v1/bans/${encodeURIComponent(address)}`, reason));
    const closed = answer.connectionsClosed === 1 ? '1 connection' : `${answer.connectionsClosed} connections`;
    process.stdout.write(`${answer.created ? 'banned' : 'ban updated:'} ${answer.ban.address}; ${closed} closed\n`);
    return 0;
  });
}

export function unban(config: TrellisConfig, address: string): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const answer = await adminJson<{ unbanned: string }>(socket, 'DELETE', `/v1/bans/${encodeURIComponent(address)}`);
    process.stdout.write(`unbanned ${answer.unbanned}\n`);
    return 0;
  });
}

export function listBlockedDomains(config: TrellisConfig, asJson: boolean): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const { domains } = await adminJson<{ domains: DomainBlockRow[] }>(socket, 'GET', '/v1/blocked-domains');
    if (asJson) process.stdout.write(JSON.stringify(domains, null, 2) + '\n');
    else process.stdout.write(domains.length === 0 ? 'no blocked domains\n' : formatTable(['DOMAIN', 'SINCE', 'REASON'], domains.map((block) => [block.domain, block.createdAt, block.reason ?? '-'])));
    return 0;
  });
}

export function blockDomain(config: TrellisConfig, domain: string, reason: string | undefined): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const answer = await adminJson<{ domain: DomainBlockRow; created: boolean; connectionsClosed: number }>(socket, 'PUT', withReason(`/v1/blocked-domains/${encodeURIComponent(domain)}`, reason));
    const closed = answer.connectionsClosed === 1 ? '1 connection' : `${answer.connectionsClosed} connections`;
    process.stdout.write(`${answer.created ? 'blocked' : 'block updated:'} ${answer.domain.domain}; ${closed} closed\n`);
    return 0;
  });
}

export function unblockDomain(config: TrellisConfig, domain: string): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const answer = await adminJson<{ unblocked: string }>(socket, 'DELETE', `/v1/blocked-domains/${encodeURIComponent(domain)}`);
    process.stdout.write(`unblocked ${answer.unblocked}\n`);
    return 0;
  });
}
