/**
 * An operator's commands that act on the whole cluster whichever node they are sent to
 * (docs/cluster.md, "Operator commands"): a ban or a block (or lifting one) is stored once and
 * taken by every node, which closes the connections it covers there; revoking a pair and closing
 * a server connection act on the node that holds the connection, which may be any node (a remote
 * server connects to whichever it likes, and the node federating with a domain holds the
 * outgoing one).
 */
import type { AbuseChange, Limits } from '../limits/limits.ts';
import type { NodeAnswer, NodeNotices } from '../router/node-notices.ts';
import type { S2sService } from '../s2s/service.ts';
import type { Logger } from '../util/log.ts';

export const ABUSE_TOPIC = 'abuse';
export const S2S_REVOKE_TOPIC = 's2s-revoke';
export const S2S_CLOSE_TOPIC = 's2s-close';

/** A server connection another node closed for `trellis s2s close`. */
export interface ClosedElsewhere {
  id: string;
  direction: 'in' | 'out';
  remote: string;
}

/** The counts the other nodes answered, summed, and the nodes that did not answer one. */
export function sumAnswers(answers: readonly NodeAnswer[]): { sum: number; failed: NodeAnswer[] } {
  let sum = 0;
  const failed: NodeAnswer[] = [];
  for (const answer of answers) {
    const value = answer.body === undefined ? NaN : Number(answer.body);
    if (Number.isInteger(value)) sum += value;
    else failed.push(answer);
  }
  return { sum, failed };
}

export function shareOperations(notices: NodeNotices, limits: Limits, s2s: S2sService, logger: Logger): void {
  limits.shared = async (change) => {
    const { sum, failed } = sumAnswers(await notices.ask(ABUSE_TOPIC, JSON.stringify(change)));
    for (const { node, error } of failed) logger.error(`cluster node did not take a ${change.kind}; it loads it at its next start`, { node, error });
    return sum;
  };
  notices.on(ABUSE_TOPIC, (body) => String(limits.apply(JSON.parse(body) as AbuseChange)));
  notices.on(S2S_REVOKE_TOPIC, (body) => {
    const { local, remote } = JSON.parse(body) as { local: unknown; remote: unknown };
    if (typeof local !== 'string' || typeof remote !== 'string') throw new Error('a revocation names a local and a remote domain');
    return String(s2s.revokePair({ local, remote }));
  });
  notices.on(S2S_CLOSE_TOPIC, (prefix) => {
    // The id or a prefix of it that names one connection here; nothing when none or several do.
    const matches = s2s.connections().filter((connection) => connection.id.startsWith(prefix));
    const only = matches.length === 1 ? matches[0]! : undefined;
    if (only === undefined || !s2s.closeConnection(only.id)) return '';
    return JSON.stringify({ id: only.id, direction: only.direction, remote: only.remoteDomain ?? only.remoteAddress } satisfies ClosedElsewhere);
  });
}
