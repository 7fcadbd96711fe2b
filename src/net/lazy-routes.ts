/**
 * HTTP routes whose code is imported at their first request rather than at start: a server that
 * nobody asks for its web console or a WebSocket stream never holds their modules in memory
 * (docs/performance.md, "Memory at start"). The first request waits for the import; every later
 * one goes straight to the loaded route.
 */
import type { Logger } from '../util/log.ts';
import { refuseUpgrade, type HttpRoute } from './http-listener.ts';

/**
 * Stand-ins for the routes `load` makes, one per path, answering requests (`request`) or
 * upgrades (`upgrade`); `load` runs once, at the first request to any of them, and must return
 * a route of that kind for each path.
 */
export function lazyRoutes(kind: 'request' | 'upgrade', paths: readonly string[], load: () => Promise<HttpRoute[]>, logger: Logger): HttpRoute[] {
  let loading: Promise<HttpRoute[]> | undefined;
  async function loaded(path: string): Promise<HttpRoute> {
    const route = (await (loading ??= load())).find((candidate) => candidate.path === path && candidate[kind] !== undefined);
    if (route === undefined) throw new Error(`the loaded routes have no ${kind} route for ${path}`);
    return route;
  }
  return paths.map((path) =>
    kind === 'request'
      ? // A failure reaches the listener, which logs it and answers 500.
        { path, request: async (request, response, client) => (await loaded(path)).request!(request, response, client) }
      : {
          path,
          // The socket is not read until the loaded route takes it (Node pauses an upgraded socket).
          upgrade(request, socket, head, client) {
            loaded(path).then(
              (route) => route.upgrade!(request, socket, head, client),
              (error: unknown) => {
                logger.error('http upgrade failed', { path, error: error instanceof Error ? error.stack : String(error) });
                refuseUpgrade(socket, 503, 'this service could not be started; see the server log');
              },
            );
          },
        },
  );
}
