/**
 * The admin API's server-connection commands in a cluster (docs/cluster.md, "Operator
 * commands"): the connection a command names may be held by any node, so the node asked acts
 * on its own connections and asks every other node to act on theirs.
 *
 *   DELETE /v1/s2s/<id>                    close the connection with that id (or unique prefix) on whichever node holds it
 *   DELETE /v1/s2s/pairs/<local>/<remote>  revoke the pair on every node's connections
 *
 * Outside a cluster, and when nothing is found anywhere, routes.ts answers as for one server.
 */
import { S2S_CLOSE_TOPIC, S2S_REVOKE_TOPIC, sumAnswers, type ClosedElsewhere } from '../cluster/operations.ts';
import { errorResponse, json, type AdminResponse } from './routes.ts';
import type { AdminSources } from './sources.ts';
import type { RevokeAnswer } from './types.ts';

const PAIRS = '/v1/s2s/pairs/';
const CONNECTIONS = '/v1/s2s/';

export async function handleClusterRequest(method: string, target: string, sources: AdminSources): Promise<AdminResponse | undefined> {
  const cluster = sources.cluster;
  if (cluster?.ask === undefined || method !== 'DELETE') return undefined;
  const ask = (topic: string, body: string) => cluster.ask!(topic, body);
  let path: string;
  try {
    path = decodeURIComponent(target.split('?')[0]!);
  } catch {
    return undefined;
  }
  if (path.startsWith(PAIRS)) {
    const [local, remote, ...extra] = path.slice(PAIRS.length).split('/');
    if (!local || !remote || extra.length > 0) return undefined;
    const here = sources.s2s.revokePair({ local, remote });
    const { sum, failed } = sumAnswers(await ask(S2S_REVOKE_TOPIC, JSON.stringify({ local, remote })));
    if (here + sum === 0) {
      if (failed.length > 0) return errorResponse(503, `no connection here revokes ${remote} -> ${local}, and ${failed.map((answer) => `${answer.node} (${answer.error ?? 'no answer'})`).join(', ')} did not answer; try again`);
      return undefined;
    }
    return json(200, { revoked: { local, remote }, connections: here + sum } satisfies RevokeAnswer);
  }
  const id = path.slice(CONNECTIONS.length);
  if (!path.startsWith(CONNECTIONS) || id === '' || id.includes('/') || sources.s2s.connections().some((connection) => connection.id === id)) return undefined;
  for (const answer of await ask(S2S_CLOSE_TOPIC, id)) {
    if (answer.body === undefined || answer.body === '') continue;
    const closed = JSON.parse(answer.body) as ClosedElsewhere;
    return json(200, { closed: closed.id, node: answer.node, direction: closed.direction, remote: closed.remote });
  }
  return undefined;
}
