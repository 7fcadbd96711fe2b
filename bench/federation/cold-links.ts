/**
 * Cold-link setup time: a client of domain X sends one message to a client of domain Y, whose
 * servers have never talked about that pair. The time from the write to the receiving client's
 * read covers the whole setup on the sending side and the receiving side: DNS (SRV and address
 * records of a name never asked before), TCP, STARTTLS and the TLS handshake, authentication
 * (SASL EXTERNAL, or dialback with its call back to X's server, itself needing DNS and a link)
 * and delivery. A second message on the now warm link is timed too, for comparison.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchClient } from '../load/bench-client.ts';
import { C2S_PORT, type FederationPeer } from './peer.ts';

export interface ColdLinkPair {
  from: { peer: FederationPeer; domain: string; username: string };
  to: { peer: FederationPeer; domain: string; username: string };
}

export interface ColdLinkResult {
  fromDomain: string;
  toDomain: string;
  /** first message on the cold link; NaN when it did not arrive in time */
  coldMs: number;
  /** the next message on the same link */
  warmMs: number;
  /** what arrived instead, e.g. an error bounce */
  failure?: string;
}

const DELIVERY_TIMEOUT_MS = 15_000;
const PAUSE_BETWEEN_LINKS_MS = 300;

export async function measureColdLinks(pairs: ColdLinkPair[], password: string): Promise<ColdLinkResult[]> {
  const clients: BenchClient[] = [];
  const login = async ({ peer, domain, username }: ColdLinkPair['from']) => {
    const client = await BenchClient.login({ address: peer.address, port: C2S_PORT, domain, username, password, resource: 'bench', mechanism: 'SCRAM-SHA-1', timeoutMs: 30_000 });
    clients.push(client);
    return client;
  };
  try {
    // Everyone logs in first, so that each timing is the link alone.
    const logged = await Promise.all(pairs.map(async (pair) => ({ pair, sender: await login(pair.from), receiver: await login(pair.to) })));
    const results: ColdLinkResult[] = [];
    for (const { pair, sender, receiver } of logged) {
      const cold = await timeOne(sender, receiver, 'cold');
      const warm = cold.failure === undefined ? await timeOne(sender, receiver, 'warm') : { ms: NaN };
      results.push({ fromDomain: pair.from.domain, toDomain: pair.to.domain, coldMs: cold.ms, warmMs: warm.ms, failure: cold.failure });
      await sleep(PAUSE_BETWEEN_LINKS_MS);
    }
    return results;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** Sends one message and waits for it, or for an error bounce to the sender, or the timeout. */
async function timeOne(sender: BenchClient, receiver: BenchClient, label: string): Promise<{ ms: number; failure?: string }> {
  const marker = `${label}-${Math.random().toString(36).slice(2)}`;
  let arrivedAt = 0;
  let failure: string | undefined;
  let wake: (() => void) | undefined;
  let received = '';
  receiver.takeIncoming((text) => {
    received += text;
    if (arrivedAt === 0 && received.includes(marker)) {
      arrivedAt = performance.now();
      wake?.();
    }
  });
  let bounced = '';
  sender.takeIncoming((text) => {
    bounced += text;
    if (bounced.includes(marker) && /type=["']error["']/.test(bounced)) {
      failure = bounced.slice(bounced.indexOf('<message'));
      wake?.();
    }
  });
  const sentAt = performance.now();
  sender.queue(`<message type='chat' to='${receiver.fullJid}'><body>${marker}</body></message>`);
  const deadline = sentAt + DELIVERY_TIMEOUT_MS;
  while (arrivedAt === 0 && failure === undefined && performance.now() < deadline) {
    await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(100)]);
  }
  if (arrivedAt > 0) return { ms: arrivedAt - sentAt };
  return { ms: NaN, failure: failure ?? `not delivered within ${DELIVERY_TIMEOUT_MS} ms` };
}
