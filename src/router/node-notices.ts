/**
 * What the nodes of a cluster tell each other about state each of them keeps a copy of
 * (docs/cluster.md, "State every node sees"): a feature that changes such state publishes a
 * notice under its topic, and the same feature on every other live node handles it (drops a
 * cached entry, takes a new value). An operator's command that must act wherever the thing it
 * names lives asks every other node and gathers their answers. Without a cluster there are no
 * other nodes: publishing does nothing and asking gets no answers.
 */

/** What a feature does with a notice or a question of its topic from another node; a question's answer is its return value. */
export type NoticeHandler = (body: string) => string | void | Promise<string | void>;

/** One other node's answer to a question. */
export interface NodeAnswer {
  node: string;
  /** the handler's return value; undefined when it failed or did not answer in time (`error` says which) */
  body?: string;
  error?: string;
}

/** Hands notices and questions to the other live nodes (the cluster node, src/cluster/notice-relay.ts). */
export interface NoticeTransport {
  /** Resolves once every other live node's inbox holds the notice. */
  publish(topic: string, body: string): Promise<void>;
  /** Resolves with every other live node's answer, or its failure. */
  ask(topic: string, body: string): Promise<NodeAnswer[]>;
}

export class NodeNotices {
  readonly #handlers = new Map<string, NoticeHandler>();
  /** set while this server is a node of a cluster */
  transport: NoticeTransport | undefined;

  /** Handles `topic`'s notices and questions from the other nodes; a later handler for the topic replaces the earlier one (a host added again on reload). */
  on(topic: string, handler: NoticeHandler): void {
    this.#handlers.set(topic, handler);
  }

  /** Tells every other live node; resolves once they all hold the notice (or at once without a cluster). */
  async publish(topic: string, body: string): Promise<void> {
    await this.transport?.publish(topic, body);
  }

  /** Asks every other live node; no answers without a cluster. */
  async ask(topic: string, body: string): Promise<NodeAnswer[]> {
    return (await this.transport?.ask(topic, body)) ?? [];
  }

  /** A notice or question from another node: its topic's handler's answer; throws for a topic nothing here handles. */
  async received(topic: string, body: string): Promise<string | undefined> {
    const handler = this.#handlers.get(topic);
    if (handler === undefined) throw new Error(`no handler for the cluster notice topic ${JSON.stringify(topic)}`);
    return (await handler(body)) ?? undefined;
  }
}
