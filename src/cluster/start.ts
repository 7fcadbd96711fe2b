/**
 * Starts this server's cluster node (docs/cluster.md) on the Redis engine, with the client
 * service as the local side it pauses and whose sessions it ends when it fences itself, and the
 * server service whose remote domains it shares out among the nodes, and the group-chat rooms it
 * shares out the same way (server.ts then has the rooms' stanzas placed by `node.rooms`).
 */
import type { C2sService } from '../c2s/listener.ts';
import type { ClusterConfig } from '../config/types.ts';
import type { Router } from '../router/router.ts';
import type { S2sService } from '../s2s/service.ts';
import type { Logger } from '../util/log.ts';
import { ClusterNode } from './node.ts';
import { RedisEngine } from './redis-engine.ts';
import type { LocalRooms } from './rooms.ts';

export async function startCluster(config: ClusterConfig, router: Router, c2s: C2sService, s2s: S2sService, rooms: LocalRooms, logger: Logger): Promise<ClusterNode> {
  const engine = new RedisEngine({ url: config.redis_url, keyPrefix: config.key_prefix, logger: logger.child({ component: 'cluster' }) });
  try {
    await engine.connect();
  } catch (error) {
    await engine.close();
    throw new Error(`cluster.redis_url: Redis at ${config.redis_url} cannot be reached: ${error instanceof Error ? error.message : String(error)}`);
  }
  const node = new ClusterNode({
    config,
    engine,
    router,
    logger,
    federation: { local: s2s, s2s: s2s.context.config },
    rooms,
    clients: {
      pause: (reason) => (c2s.pausedFor = reason),
      sessions: () => c2s.sessions,
      handOver: (previd, account) => c2s.handOver(previd, account),
      install: (state, from) => void c2s.install(state, from),
    },
  });
  try {
    await node.start();
  } catch (error) {
    node.federation.close();
    node.rooms.close();
    await engine.close();
    throw error;
  }
  // From now on the nodes agree on which of them sends to each remote domain.
  s2s.owners = node.federation;
  // A client may resume here a session another node holds (XEP-0198 section 5).
  c2s.resumption = node.resumption;
  return node;
}
