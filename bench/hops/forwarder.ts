/**
 * A process that only moves bytes: each `LISTEN=TARGET` argument (both `address:port`) is a
 * relay with no delay (../pairs/delay-proxy.ts) from LISTEN to TARGET. The per-hop benchmark puts
 * two of them where the chain has its edges (topology.ts, the `forwarded` case): what a process
 * on the path costs on this machine with no work of its own. Stops on SIGTERM.
 *
 *   node bench/hops/forwarder.ts 127.0.74.2:5269=127.0.74.3:5269 127.0.74.2:5290=127.0.74.1:5269
 */
import { startDelayProxy, type DelayProxy } from '../pairs/delay-proxy.ts';

function endpoint(text: string): { address: string; port: number } {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not address:port: ${text}`);
  return { address: text.slice(0, colon), port };
}

const relays: DelayProxy[] = [];
for (const argument of process.argv.slice(2)) {
  const [listen, target] = argument.split('=').map(endpoint);
  if (listen === undefined || target === undefined) throw new Error(`expected LISTEN=TARGET: ${argument}`);
  relays.push(await startDelayProxy(listen, target, 0));
}

process.on('SIGTERM', () => void Promise.all(relays.map((relay) => relay.stop())).then(() => process.exit(0)));
