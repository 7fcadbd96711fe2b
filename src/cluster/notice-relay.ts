/**
 * Carries the notices and questions of this server's features (router/node-notices.ts) to the
 * other live nodes through their inboxes, and hands theirs to the features here. A notice is in
 * every other live node's inbox when `publish` resolves, after everything this node appended
 * there before (one ordered channel per pair of nodes). A question is answered by each node;
 * one that does not answer within a lease counts as failed.
 */
import { randomUUID } from 'node:crypto';
import type { NodeAnswer, NodeNotices, NoticeTransport } from '../router/node-notices.ts';
import type { Logger } from '../util/log.ts';
import type { ClusterEngine, InboxEntry, NodeIdentity } from './engine.ts';

/** Questions waiting for answers at once; more are refused (an operator's commands are few). */
const MAX_WAITING_ANSWERS = 256;

export interface NoticeRelayOptions {
  engine: ClusterEngine;
  /** this node while it is a live member of the cluster */
  self(): NodeIdentity | undefined;
  /** the other live nodes, as of the last heartbeat */
  others(): NodeIdentity[];
  notices: NodeNotices;
  /** how long a node has to answer a question */
  answerTimeoutMs: number;
  logger: Logger;
}

type RelayedEntry = Extract<InboxEntry, { kind: 'notice' | 'ask' | 'answer' }>;

export class NoticeRelay implements NoticeTransport {
  readonly #options: NoticeRelayOptions;
  readonly #waiting = new Map<string, { node: string; resolve(answer: NodeAnswer): void; timer: NodeJS.Timeout }>();

  constructor(options: NoticeRelayOptions) {
    this.#options = options;
  }

  async publish(topic: string, body: string): Promise<void> {
    const { engine, logger } = this.#options;
    const self = this.#options.self();
    if (self === undefined) return logger.warn('cluster notice not sent: this node is rejoining its cluster', { topic });
    await Promise.all(
      this.#options.others().map(async (node) => {
        // A node that is gone holds no copy any more; one that joins later reads storage afresh.
        const outcome = await engine.send(self, node, { kind: 'notice', topic, body }, Number.MAX_SAFE_INTEGER).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
        if (outcome !== 'sent' && outcome !== 'gone') logger.warn('cluster notice not handed to a node', { topic, node: node.name, outcome });
      }),
    );
  }

  async ask(topic: string, body: string): Promise<NodeAnswer[]> {
    const self = this.#options.self();
    if (self === undefined) throw new Error('this node is rejoining its cluster; ask again shortly');
    return Promise.all(this.#options.others().map((node) => this.#askOne(self, node, topic, body)));
  }

  async #askOne(self: NodeIdentity, node: NodeIdentity, topic: string, body: string): Promise<NodeAnswer> {
    if (this.#waiting.size >= MAX_WAITING_ANSWERS) return { node: node.name, error: `more than ${MAX_WAITING_ANSWERS} questions to other nodes are waiting` };
    const id = randomUUID();
    const answer = new Promise<NodeAnswer>((resolve) => {
      const timer = setTimeout(() => this.#answered(id, { error: `no answer within ${this.#options.answerTimeoutMs} ms` }), this.#options.answerTimeoutMs);
      this.#waiting.set(id, { node: node.name, resolve, timer });
    });
    const outcome = await this.#options.engine.send(self, node, { kind: 'ask', id, topic, body }, Number.MAX_SAFE_INTEGER).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    if (outcome !== 'sent') this.#answered(id, { error: outcome === 'gone' ? 'the node is gone' : `not asked: ${outcome}` });
    return answer;
  }

  #answered(id: string, answer: { body?: string; error?: string }): void {
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return;
    this.#waiting.delete(id);
    clearTimeout(waiting.timer);
    waiting.resolve({ node: waiting.node, ...answer });
  }

  /** A notice, question or answer from another node's inbox. */
  async receive(from: NodeIdentity, entry: RelayedEntry): Promise<void> {
    const { notices, engine, logger } = this.#options;
    switch (entry.kind) {
      case 'notice':
        try {
          await notices.received(entry.topic, entry.body);
        } catch (error) {
          logger.error('cluster notice not applied', { topic: entry.topic, from: from.name, error: error instanceof Error ? error.message : String(error) });
        }
        return;
      case 'ask': {
        let reply: InboxEntry;
        try {
          const body = await notices.received(entry.topic, entry.body);
          reply = { kind: 'answer', id: entry.id, ...(body === undefined ? {} : { body }) };
        } catch (error) {
          reply = { kind: 'answer', id: entry.id, error: error instanceof Error ? error.message : String(error) };
        }
        const self = this.#options.self();
        if (self === undefined) return;
        await engine.send(self, from, reply, Number.MAX_SAFE_INTEGER).catch((error: unknown) => logger.warn('cluster answer not handed back', { to: from.name, error: error instanceof Error ? error.message : String(error) }));
        return;
      }
      case 'answer':
        return this.#answered(entry.id, { ...(entry.body === undefined ? {} : { body: entry.body }), ...(entry.error === undefined ? {} : { error: entry.error }) });
    }
  }

  /** This node left the cluster: nothing more will be answered. */
  reset(): void {
    for (const id of [...this.#waiting.keys()]) this.#answered(id, { error: 'this node left its cluster' });
  }
}
