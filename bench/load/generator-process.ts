/**
 * A load generator process: logs its share of the clients in, runs the messaging traffic when
 * told to, and reports. Driven over IPC by bench/load/generators.ts; it exits when its parent
 * disconnects (done, crashed or interrupted).
 */
import { performance } from 'node:perf_hooks';
import { BenchClient } from './bench-client.ts';
import { saltedPasswordDerivations } from './cached-scram-client.ts';
import type { FromGenerator, GeneratorSetup, ToGenerator } from './generator-protocol.ts';
import { clientNode, MessagingTraffic } from './messaging-traffic.ts';

let clients: BenchClient[] = [];
let traffic: MessagingTraffic | undefined;

function reply(message: FromGenerator): void {
  process.send?.(message);
}

async function setUp(setup: GeneratorSetup): Promise<void> {
  const start = performance.now();
  const derivationsBefore = saltedPasswordDerivations();
  clients = await loginAll(setup);
  traffic = new MessagingTraffic(clients, setup);
  reply({ type: 'ready', clients: clients.length, loginMillis: performance.now() - start, derivations: saltedPasswordDerivations() - derivationsBefore });
}

/** Runs each account's first SCRAM exchange, `loginConcurrency` at a time, to cache its SaltedPassword. */
async function prime(setup: GeneratorSetup): Promise<void> {
  const start = performance.now();
  if (setup.protocol === 'xmpp') {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < setup.usernames.length) {
        const username = setup.usernames[next++]!;
        await BenchClient.primeSaltedPassword({ ...setup, username, timeoutMs: setup.loginTimeoutMs });
      }
    };
    await Promise.all(Array.from({ length: Math.min(setup.loginConcurrency, setup.usernames.length) }, worker));
  }
  reply({ type: 'primed', derivations: saltedPasswordDerivations(), primeMillis: performance.now() - start });
}

/** Logs in every client, `loginConcurrency` at a time, in username order. */
async function loginAll(setup: GeneratorSetup): Promise<BenchClient[]> {
  const result: BenchClient[] = new Array(setup.usernames.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < setup.usernames.length) {
      const index = next++;
      result[index] = await connectClient(setup, index);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(setup.loginConcurrency, setup.usernames.length) }, worker));
  } catch (error) {
    for (const client of result) client?.socket.destroy();
    throw error;
  }
  return result;
}

/** Client i's peer is client i+1 of this process (the last one's is the first), as in MessagingTraffic. */
function connectClient(setup: GeneratorSetup, index: number): Promise<BenchClient> {
  const username = setup.usernames[index]!;
  const node = setup.nodes?.[clientNode(index, setup.nodes.length)];
  if (setup.protocol === 'xmpp') return BenchClient.login({ ...setup, ...node, username, timeoutMs: setup.loginTimeoutMs });
  const jidOf = (name: string) => `${name}@${setup.domain}/${setup.resource}`;
  const peer = setup.usernames[(index + 1) % setup.usernames.length]!;
  return BenchClient.connectRelay({ address: setup.address, port: setup.port, fullJid: jidOf(username), peerJid: jidOf(peer), timeoutMs: setup.loginTimeoutMs });
}

async function handle(message: ToGenerator): Promise<void> {
  switch (message.type) {
    case 'prime':
      return prime(message.setup);
    case 'setup':
      return setUp(message.setup);
    case 'run':
      if (!traffic) throw new Error('run before setup');
      reply({ type: 'result', result: await traffic.run(message.phases) });
      return;
    case 'count':
      reply({ type: 'counted', connected: clients.filter((client) => !client.closedBecause).length });
      return;
    case 'close':
      await Promise.all(clients.map((client) => client.close()));
      reply({ type: 'closed' });
      return;
  }
}

process.on('message', (message: ToGenerator) => {
  handle(message).catch((error: unknown) => {
    reply({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    for (const client of clients) client.socket.destroy();
  });
});
// The parent went away (finished, crashed or interrupted): nothing left to do.
process.on('disconnect', () => process.exit(0));
